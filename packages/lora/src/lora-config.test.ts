import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { getPeftModel, InvalidConfigError, registerTuner, setWarningHandler } from '@peftjs/core';
import { mlp } from './__fixtures__/models';
import { readJson } from './__fixtures__/peft-fixtures';
import { createLoraConfig, isPissaInit, lora, loraConfigSchema, pissaIterations } from './index';

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(lora);
});

const PEFT_DEFAULTS = {
  alpha_pattern: {},
  auto_mapping: null,
  base_model_name_or_path: null,
  bias: 'none',
  fan_in_fan_out: false,
  inference_mode: false,
  init_lora_weights: true,
  layer_replication: null,
  layers_pattern: null,
  layers_to_transform: null,
  loftq_config: {},
  lora_alpha: 8,
  lora_dropout: 0,
  megatron_config: null,
  megatron_core: 'megatron.core',
  modules_to_save: null,
  peft_type: 'LORA',
  r: 8,
  rank_pattern: {},
  revision: null,
  target_modules: null,
  task_type: null,
  use_dora: false,
  use_rslora: false,
};

function invalid(run: () => unknown, pattern: RegExp): void {
  try {
    run();
  } catch (error) {
    expect(InvalidConfigError.isInstance(error), String(error)).toBe(true);
    expect((error as Error).message).toMatch(pattern);
    return;
  }
  throw new Error(`expected an InvalidConfigError matching ${pattern}`);
}

describe('LoraConfig', () => {
  it('has every PEFT 0.11.1 field with its default, and exactly the keys PEFT writes', () => {
    const json = lora.serializeConfig(createLoraConfig());
    expect(json).toEqual(PEFT_DEFAULTS);
    const fixture = readJson('mlp-lora/adapter/adapter_config.json');
    expect(Object.keys(json).sort()).toEqual(Object.keys(fixture).sort());
  });

  it('reads a Python adapter_config.json and writes it back unchanged', () => {
    for (const path of [
      'mlp-lora/adapter',
      'mlp-lora-rslora-dora/adapters/dora',
      'gpt2-lora/adapter',
      'llama-lora/adapter',
      'bert-seqcls-lora/adapter',
      'mt5-lora-seq2seq/adapter',
    ]) {
      const fixture = readJson(`${path}/adapter_config.json`);
      expect(lora.serializeConfig(lora.parseConfig(fixture)), path).toEqual(fixture);
    }
  });

  it('takes camelCase options and fills the rest', () => {
    const config = createLoraConfig({ r: 16, loraAlpha: 32, targetModules: ['q_proj', 'v_proj'], useDora: true, rankPattern: { q_proj: 4 }, taskType: 'CAUSAL_LM' });
    expect(config).toMatchObject({
      r: 16,
      loraAlpha: 32,
      targetModules: ['q_proj', 'v_proj'],
      useDora: true,
      rankPattern: { q_proj: 4 },
      taskType: 'CAUSAL_LM',
      bias: 'none',
      loraDropout: 0,
    });
    const json = lora.serializeConfig(config);
    expect(json).toMatchObject({ r: 16, lora_alpha: 32, use_dora: true, rank_pattern: { q_proj: 4 }, task_type: 'CAUSAL_LM' });
  });

  it('validates r, dropout, bias and the patterns', () => {
    invalid(() => createLoraConfig({ r: 0 }), /"r" is 0; expected a positive integer/);
    invalid(() => createLoraConfig({ r: 2.5 }), /"r"/);
    invalid(() => createLoraConfig({ loraDropout: 1 }), /lora_dropout/);
    invalid(() => createLoraConfig({ bias: 'some' as never }), /"bias" is "some"; expected one of "none", "all", "lora_only"/);
    invalid(() => createLoraConfig({ rankPattern: { q: 0 } }), /rank_pattern\.q/);
    invalid(() => createLoraConfig({ layerReplication: [[3, 1]] }), /layer_replication/);
  });

  it('accepts every init PEFT 0.11.1 implements and refuses LoftQ with a clear error', () => {
    for (const init of [true, false, 'gaussian', 'pissa', 'pissa_niter_4', 'pissa_niter_16'] as const)
      expect(createLoraConfig({ initLoraWeights: init }).initLoraWeights).toBe(init);
    expect(isPissaInit('pissa_niter_16')).toBe(true);
    expect(pissaIterations('pissa_niter_16')).toBe(16);
    expect(pissaIterations('pissa')).toBeUndefined();
    invalid(() => createLoraConfig({ initLoraWeights: 'loftq' as never }), /LoftQ initialisation quantises the base weights/);
    invalid(() => createLoraConfig({ initLoraWeights: 'pissa_niter_x' as never }), /pissa_niter_<n>/);
    invalid(() => createLoraConfig({ initLoraWeights: 'olora' as never }), /0\.12/);
    invalid(() => loraConfigSchema.parse({ init_lora_weights: 'kaiming' }), /expected true, false, "gaussian"/);
  });

  it('refuses megatron_config and loftq_config unless they are the defaults', () => {
    expect(() => loraConfigSchema.parse({ megatron_config: null, loftq_config: {} })).not.toThrow();
    invalid(() => loraConfigSchema.parse({ megatron_config: { tensor_model_parallel_size: 2 } }), /Megatron/);
    invalid(() => loraConfigSchema.parse({ loftq_config: { loftq_bits: 4, loftq_iter: 1 } }), /LoftQ/);
  });

  it('keeps keys it does not know (with a warning) and writes them back', () => {
    const warnings: string[] = [];
    const previous = setWarningHandler((message) => warnings.push(message));
    try {
      const config = lora.parseConfig({ peft_type: 'LORA', r: 4, lora_bias: false });
      expect(warnings.join('\n')).toMatch(/lora_bias/);
      expect(lora.serializeConfig(config).lora_bias).toBe(false);
    } finally {
      setWarningHandler(previous);
    }
  });

  it('refuses layer_replication at injection and leaves the model as it was', () => {
    const model = mlp();
    const before = tf.memory().numTensors;
    invalid(() => getPeftModel(model, createLoraConfig({ targetModules: ['lin0'], layerReplication: [[0, 1]] })), /layer_replication is not supported/);
    invalid(() => getPeftModel(model, createLoraConfig({ targetModules: 'lin.*', layersToTransform: [0] })), /layers_to_transform/);
    expect(tf.memory().numTensors).toBe(before);
    expect(model.layers.map((layer) => layer.getClassName())).toEqual(['Dense', 'Dense', 'Dense']);
  });
});
