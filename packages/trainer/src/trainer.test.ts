import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getPeftModel, registerTuner, type PeftModel, type TunerV1 } from '@peftjs/core';
import { ia3 } from '@peftjs/ia3';
import { lora } from '@peftjs/lora';
import { loadPretrained } from '@peftjs/models';
import { prefixTuning, promptTuning, pTuning } from '@peftjs/prompt-tuning';
import { peftTrainFixturePath } from '../../../test-fixtures/index';
import {
  CheckpointError,
  learningRateAt,
  listCheckpoints,
  loadTrainableState,
  MemoryStorage,
  readTrainableState,
  Trainer,
  TrainableStateError,
  TrainingArgumentsError,
  trainableParameters,
  withSeededMathRandom,
  type TrainingArguments,
  type TrainingExample,
} from './index';

const LLAMA = peftTrainFixturePath('llama-lora-adamw', 'base');
const GPT2 = peftTrainFixturePath('gpt2-ia3-adamw', 'base');

beforeAll(async () => {
  await tf.setBackend('cpu');
  for (const tuner of [lora, ia3, promptTuning, pTuning, prefixTuning]) registerTuner(tuner);
});

const models: PeftModel[] = [];
afterEach(() => {
  for (const model of models.splice(0)) model.unload();
});

/** A fresh base and adapter; the same seed gives the same initial adapter. */
async function build(basePath: string, config: Record<string, unknown>, seed = 3): Promise<PeftModel> {
  const base = await loadPretrained(basePath, 'causal-lm');
  const peftModel = withSeededMathRandom(seed, () => getPeftModel(base, { task_type: 'CAUSAL_LM', ...config }));
  models.push(peftModel);
  return peftModel;
}

function rows(count: number, vocab: number, seed = 1): TrainingExample[] {
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648);
  return Array.from({ length: count }, () => ({ inputIds: Array.from({ length: 4 + (next() % 6) }, () => next() % vocab) }));
}

const sameState = async (a: PeftModel, b: PeftModel) => {
  const [left, right] = [await readTrainableState(a), await readTrainableState(b)];
  expect(Object.keys(left).sort()).toEqual(Object.keys(right).sort());
  for (const key of Object.keys(left)) expect(Buffer.compare(Buffer.from(left[key]!.values.buffer), Buffer.from(right[key]!.values.buffer)), key).toBe(0);
};

// The methods and options of the hidden fixture cases: each names its tensors as PEFT does,
// trains, and resumes bit-identically (with dropout, shuffling, accumulation and warm-up).
const CASES: Array<{ name: string; base: string; vocab: number; config: Record<string, unknown>; keys: Array<[string, boolean]> }> = [
  {
    name: 'rsLoRA with dropout',
    base: LLAMA,
    vocab: 128,
    config: { peft_type: 'LORA', r: 4, lora_alpha: 8, use_rslora: true, lora_dropout: 0.2, target_modules: ['q_proj', 'v_proj'] },
    keys: [
      ['base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', true],
      ['base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight', true],
    ],
  },
  {
    name: 'LoRA with bias="lora_only"',
    base: GPT2,
    vocab: 100,
    config: { peft_type: 'LORA', r: 2, bias: 'lora_only', target_modules: ['c_fc'] },
    keys: [
      ['base_model.model.transformer.h.0.mlp.c_fc.base_layer.bias', false],
      ['base_model.model.transformer.h.1.mlp.c_fc.lora_A.weight', true],
    ],
  },
  {
    name: 'LoRA with modules_to_save',
    base: LLAMA,
    vocab: 128,
    config: { peft_type: 'LORA', r: 2, target_modules: ['q_proj'], modules_to_save: ['lm_head', 'model.norm'] },
    keys: [
      ['base_model.model.lm_head.weight', true],
      ['base_model.model.model.norm.weight', false],
      ['base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight', true],
    ],
  },
  {
    name: 'P-tuning (MLP encoder)',
    base: GPT2,
    vocab: 100,
    config: { peft_type: 'P_TUNING', num_virtual_tokens: 3, encoder_hidden_size: 8 },
    keys: [
      ['prompt_encoder.embedding.weight', true],
      ['prompt_encoder.mlp_head.0.weight', true],
      ['prompt_encoder.mlp_head.0.bias', false],
      ['prompt_encoder.mlp_head.4.weight', true],
    ],
  },
  {
    name: 'prefix tuning with a projection',
    base: LLAMA,
    vocab: 128,
    config: { peft_type: 'PREFIX_TUNING', num_virtual_tokens: 3, prefix_projection: true, encoder_hidden_size: 8 },
    keys: [
      ['prompt_encoder.embedding.weight', true],
      ['prompt_encoder.transform.0.weight', true],
      ['prompt_encoder.transform.2.bias', false],
    ],
  },
  {
    name: 'prompt tuning',
    base: GPT2,
    vocab: 100,
    config: { peft_type: 'PROMPT_TUNING', num_virtual_tokens: 3 },
    keys: [['prompt_embeddings', true]],
  },
];

const RECIPE: Partial<TrainingArguments> = {
  learningRate: 5e-3,
  weightDecay: 0.01,
  lrSchedulerType: 'cosine',
  warmupRatio: 0.2,
  gradientAccumulationSteps: 2,
  perDeviceTrainBatchSize: 3,
  maxSteps: 5,
  maxGradNorm: 1,
  shuffle: true,
  seed: 11,
  saveSteps: 2,
};

describe.each(CASES)('$name', ({ base, vocab, config, keys }) => {
  it('names and groups its trainable tensors as PEFT and HF Trainer do, and resumes from a checkpoint bit-identically', async () => {
    const data = rows(10, vocab);
    const uninterrupted = await build(base, config);
    const parameters = new Map(trainableParameters(uninterrupted).map((entry) => [entry.key, entry.decay]));
    for (const [key, decay] of keys) expect(parameters.get(key), key).toBe(decay);
    const initial = await readTrainableState(uninterrupted);

    const storage = new MemoryStorage();
    const before = tf.memory().numTensors;
    const full = await new Trainer({ peftModel: uninterrupted, args: RECIPE, trainDataset: data, storage, outputDir: 'run' }).train();
    expect(tf.memory().numTensors).toBe(before);
    expect(full.log.map((entry) => entry.step)).toEqual([1, 2, 3, 4, 5]);
    expect(full.log[0]!.learning_rate).toBe(0); // warm-up starts at lr 0 (ceil(0.2 × 5) = 1 step)
    expect(full.log.at(-1)!.loss).toBeLessThan(full.log[0]!.loss + 1);
    expect(await listCheckpoints(storage, 'run')).toEqual([2, 4, 5]);

    // A second run from the same initial values, stopped after step 2 by "a crash": resume from checkpoint-2.
    const resumed = await build(base, config, 99);
    loadTrainableState(resumed, initial);
    const resumedStorage = new MemoryStorage();
    for (const [path, bytes] of storage.files) if (path.startsWith('run/checkpoint-2/')) await resumedStorage.writeFile(path, bytes);
    const rest = await new Trainer({ peftModel: resumed, args: RECIPE, trainDataset: data, storage: resumedStorage, outputDir: 'run' }).train({ resumeFromCheckpoint: 'latest' });
    expect(rest.log.map((entry) => [entry.step, entry.loss, entry.grad_norm, entry.learning_rate])).toEqual(
      full.log.map((entry) => [entry.step, entry.loss, entry.grad_norm, entry.learning_rate]),
    );
    await sameState(resumed, uninterrupted);
    const lastA = storage.files.get('run/checkpoint-5/optimizer.safetensors')!;
    const lastB = resumedStorage.files.get('run/checkpoint-5/optimizer.safetensors')!;
    expect(Buffer.compare(Buffer.from(lastA), Buffer.from(lastB))).toBe(0);
  });
});

describe('the recipe', () => {
  it('a run with the same seed is reproducible (dropout masks and shuffles come from seeded streams); another seed differs', async () => {
    const config = { peft_type: 'LORA', r: 4, lora_dropout: 0.5, target_modules: ['q_proj', 'v_proj'] };
    const data = rows(8, 128);
    const runs: PeftModel[] = [];
    for (const seed of [5, 5, 6]) {
      const model = await build(LLAMA, config);
      await new Trainer({ peftModel: model, args: { learningRate: 1e-2, maxSteps: 3, perDeviceTrainBatchSize: 4, seed }, trainDataset: data }).train();
      runs.push(model);
    }
    await sameState(runs[0]!, runs[1]!);
    const [a, c] = [await readTrainableState(runs[0]!), await readTrainableState(runs[2]!)];
    const key = Object.keys(a)[0]!;
    expect(Array.from(a[key]!.values)).not.toEqual(Array.from(c[key]!.values));
  });

  it('schedulers follow transformers: warm-up from 0, then constant, linear or cosine decay', () => {
    expect([1, 2, 3, 4, 5].map((step) => learningRateAt(1, 'constant_with_warmup', step, 2, 5))).toEqual([0, 0.5, 1, 1, 1]);
    expect([1, 2, 3, 4, 5].map((step) => learningRateAt(1, 'linear', step, 1, 5))).toEqual([0, 1, 0.75, 0.5, 0.25]);
    expect([1, 2, 3].map((step) => learningRateAt(2, 'cosine', step, 0, 2))).toEqual([2, 1, 0]);
    expect(learningRateAt(1, 'constant', 1, 3, 5)).toBe(1);
  });

  it('gradient accumulation steps on the mean of micro-batch means; max_steps, epochs and the log follow HF', async () => {
    const model = await build(GPT2, { peft_type: 'IA3' });
    const data = rows(7, 100);
    const trainer = new Trainer({
      peftModel: model,
      args: { numTrainEpochs: 2, perDeviceTrainBatchSize: 2, gradientAccumulationSteps: 2, learningRate: 1e-3 },
      trainDataset: data,
    });
    // 4 micro-batches per epoch (the last of 1 row) → 2 optimizer steps per epoch.
    expect(trainer.totalSteps).toBe(4);
    const result = await trainer.train();
    expect(result.log.map((entry) => entry.epoch)).toEqual([0.5, 1, 1.5, 2]);
    const onStep: number[][] = [];
    const again = await build(GPT2, { peft_type: 'IA3' });
    await new Trainer({
      peftModel: again,
      args: { maxSteps: 1, perDeviceTrainBatchSize: 2, gradientAccumulationSteps: 3 },
      trainDataset: data,
      callbacks: { onStep: (entry, details) => void onStep.push([entry.loss, ...details.losses]) },
    }).train();
    expect(onStep[0]!.length).toBe(4);
    expect(onStep[0]![0]).toBeCloseTo((onStep[0]![1]! + onStep[0]![2]! + onStep[0]![3]!) / 3, 6);
  });

  it("runs the tuners' training hooks: an extra loss in every micro-batch, and after each optimizer step with the gradients", async () => {
    const calls: string[] = [];
    const hooked: TunerV1<any> = {
      ...lora,
      training: {
        extraLoss: (context) => {
          calls.push(`extra ${context.adapterName} ${context.globalStep}`);
          return tf.scalar(10);
        },
        afterOptimizerStep: (context) => {
          calls.push(`after ${context.globalStep} ${context.gradients.size}`);
        },
      },
    };
    registerTuner(hooked, { override: true });
    try {
      const model = await build(LLAMA, { peft_type: 'LORA', r: 2, target_modules: ['q_proj'] });
      const logged: number[] = [];
      const before = tf.memory().numTensors;
      await new Trainer({
        peftModel: model,
        args: { maxSteps: 2, perDeviceTrainBatchSize: 2, gradientAccumulationSteps: 2 },
        trainDataset: rows(4, 128),
        callbacks: { onStep: (entry) => void logged.push(entry.loss) },
      }).train();
      expect(tf.memory().numTensors).toBe(before);
      expect(calls).toEqual(['extra default 0', 'extra default 0', 'after 1 4', 'extra default 1', 'extra default 1', 'after 2 4']);
      expect(logged.every((loss) => loss > 10)).toBe(true);
    } finally {
      registerTuner(lora, { override: true });
    }
  });

  it('stops when asked, after the current step, with a checkpoint; evaluates every eval_steps; keeps save_total_limit checkpoints', async () => {
    const model = await build(GPT2, { peft_type: 'IA3' });
    const storage = new MemoryStorage();
    const events: string[] = [];
    const result = await new Trainer({
      peftModel: model,
      args: { maxSteps: 10, perDeviceTrainBatchSize: 2, evalSteps: 2, saveSteps: 1, saveTotalLimit: 2 },
      trainDataset: rows(6, 100),
      evalDataset: rows(3, 100, 7),
      storage,
      outputDir: 'out',
      callbacks: {
        onStep: (entry) => void events.push(`step ${entry.step}`),
        onEvaluate: (entry) => void events.push(`eval ${entry.step} ${entry.rows}`),
        onSave: (entry) => void events.push(`save ${entry.step}`),
        shouldStop: () => events.includes('step 4'),
      },
    }).train();
    expect(result.stopped).toBe(true);
    expect(result.globalStep).toBe(4);
    expect(events).toEqual(['step 1', 'save 1', 'step 2', 'eval 2 3', 'save 2', 'step 3', 'save 3', 'step 4', 'eval 4 3', 'save 4']);
    expect(await listCheckpoints(storage, 'out')).toEqual([3, 4]);
    expect([...storage.files.keys()].some((path) => path.includes('.tmp'))).toBe(false);
  });
});

describe('checkpoint files', () => {
  it('a half-written checkpoint (a temporary folder a crash left) is never taken by latest, and the next run removes it', async () => {
    const storage = new MemoryStorage();
    await storage.writeFile('out/.checkpoint-9.tmp-abc/trainer_state.json', '{}');
    await storage.writeFile('out/checkpoint-7/adapter_config.json', '{}');
    expect(await listCheckpoints(storage, 'out')).toEqual([]);
    const model = await build(GPT2, { peft_type: 'IA3' });
    const trainer = new Trainer({ peftModel: model, args: { maxSteps: 1, perDeviceTrainBatchSize: 2 }, trainDataset: rows(2, 100), storage, outputDir: 'out' });
    await expect(trainer.train({ resumeFromCheckpoint: 'latest' })).rejects.toThrow(/holds no complete checkpoint/);
    await trainer.train();
    expect(await storage.list('out')).toEqual(['checkpoint-1', 'checkpoint-7']);
    expect(await listCheckpoints(storage, 'out')).toEqual([1]);
  });
});

describe('bad input', () => {
  it('refuses bad training arguments, naming the argument and the choices', async () => {
    const model = await build(GPT2, { peft_type: 'IA3' });
    expect(() => new Trainer({ peftModel: model, args: { optim: 'adafactor' as never }, trainDataset: rows(2, 100) })).toThrow(
      /optim must be one of adamw, adam, sgd, got "adafactor"/,
    );
    expect(() => new Trainer({ peftModel: model, args: { lrSchedulerType: 'cosine_with_restarts' as never }, trainDataset: rows(2, 100) })).toThrow(TrainingArgumentsError);
    expect(() => new Trainer({ peftModel: model, args: { gradientAccumulationSteps: 0 }, trainDataset: rows(2, 100) })).toThrow(
      /gradient_accumulation_steps must be an integer ≥ 1/,
    );
    expect(() => new Trainer({ peftModel: model, args: { learningRate: 1, warmupRatio: 2 }, trainDataset: rows(2, 100) })).toThrow(/warmup_ratio/);
    expect(() => new Trainer({ peftModel: model, trainDataset: [] })).toThrow(/empty/);
  });

  it('an init state with a missing, extra or mis-shaped key changes nothing and names the key', async () => {
    const model = await build(GPT2, { peft_type: 'IA3' });
    const state = await readTrainableState(model);
    const [first, second] = Object.keys(state);
    const { [first!]: _dropped, ...missing } = state;
    expect(() => loadTrainableState(model, missing)).toThrow(new RegExp(`lacks the trainable tensor "${first!.replace(/\./g, '\\.')}"`));
    expect(() => loadTrainableState(model, { ...state, 'base_model.model.extra.weight': state[first!]! })).toThrow(/holds "base_model\.model\.extra\.weight"/);
    const wrong = { ...state, [second!]: { dtype: 'float32' as const, shape: [3], values: new Float32Array(3) } };
    expect(() => loadTrainableState(model, wrong)).toThrow(TrainableStateError);
    expect(() => loadTrainableState(model, wrong)).toThrow(/has shape \[3\]/);
    await sameState(model, model);
    const after = await readTrainableState(model);
    expect(Array.from(after[first!]!.values)).toEqual(Array.from(state[first!]!.values));
  });

  it('refuses to resume from a checkpoint of another method, rank or base, naming what differs, before changing anything', async () => {
    const storage = new MemoryStorage();
    const data = rows(4, 128);
    const args = { maxSteps: 1, perDeviceTrainBatchSize: 2 };
    await new Trainer({ peftModel: await build(LLAMA, { peft_type: 'LORA', r: 4, target_modules: ['q_proj'] }), args, trainDataset: data, storage, outputDir: 'lora' }).train();
    const attempts: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ peft_type: 'LORA', r: 8, target_modules: ['q_proj'] }, LLAMA, /trained with r=4, this run's adapter has r=8/],
      [{ peft_type: 'IA3', target_modules: ['q_proj'], feedforward_modules: [] }, LLAMA, /holds a LORA adapter, this run trains IA3/],
      [{ peft_type: 'LORA', r: 4, target_modules: ['q_proj'] }, peftTrainFixturePath('llama-dora-adamw', 'base'), /another base model/],
    ];
    for (const [config, basePath, message] of attempts) {
      const model = await build(basePath, config, 5);
      const before = await readTrainableState(model);
      const trainer = new Trainer({ peftModel: model, args: { ...args, maxSteps: 2 }, trainDataset: data, storage, outputDir: 'lora' });
      await expect(trainer.train({ resumeFromCheckpoint: 'latest' })).rejects.toThrow(message);
      await expect(trainer.train({ resumeFromCheckpoint: 'lora/checkpoint-1' })).rejects.toThrow(CheckpointError);
      const after = await readTrainableState(model);
      for (const key of Object.keys(before)) expect(Array.from(after[key]!.values)).toEqual(Array.from(before[key]!.values));
    }
    expect(await listCheckpoints(storage, 'lora')).toEqual([1]);
    const nothing = new Trainer({ peftModel: await build(LLAMA, { peft_type: 'LORA', r: 4, target_modules: ['q_proj'] }), args, trainDataset: data, storage, outputDir: 'empty' });
    await expect(nothing.train({ resumeFromCheckpoint: 'latest' })).rejects.toThrow(/holds no complete checkpoint/);
  });
});
