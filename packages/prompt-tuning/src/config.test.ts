import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdapterStateError, getPeftModel, InvalidConfigError, MergeError, registerTuner, setWarningHandler, type TunerV1 } from '@peftjs/core';
import { fixtureAdapterConfig } from './__fixtures__/fixture-case';
import { TINY_GPT2, TINY_LLAMA, tinyCausalLm } from './__fixtures__/tiny-models';
import { PromptEmbedding } from './prompt-embedding-layer';
import { createPrefixTuningConfig, createPromptEncoderConfig, createPromptTuningConfig, pTuning, prefixTuning, promptTuning, textInitTokenIds } from './index';

const warnings: string[] = [];

beforeAll(async () => {
  await tf.setBackend('wasm');
  for (const tuner of [promptTuning, pTuning, prefixTuning]) registerTuner(tuner);
  setWarningHandler((message) => warnings.push(message));
});

describe('prompt-learning configs', () => {
  it.each([
    ['gpt2-prompt-tuning', promptTuning],
    ['gpt2-p-tuning', pTuning],
    ['gpt2-prefix-tuning', prefixTuning],
  ] as Array<[string, TunerV1<any>]>)('%s: parsing and writing back gives exactly the keys and values PEFT wrote', (caseName, tuner) => {
    const python = fixtureAdapterConfig(caseName);
    const ours = tuner.serializeConfig(tuner.parseConfig(python));
    expect(Object.keys(ours).sort()).toEqual(Object.keys(python).sort());
    expect(ours).toEqual(python);
  });

  it('fills every PEFT 0.11.1 default', () => {
    const base = { auto_mapping: null, base_model_name_or_path: null, inference_mode: false, revision: null, task_type: null };
    const sizes = { num_attention_heads: null, num_layers: null, num_transformer_submodules: null, token_dim: null, num_virtual_tokens: 8 };
    expect(promptTuning.serializeConfig(createPromptTuningConfig({ numVirtualTokens: 8 }))).toEqual({
      ...base,
      ...sizes,
      peft_type: 'PROMPT_TUNING',
      prompt_tuning_init: 'RANDOM',
      prompt_tuning_init_text: null,
      tokenizer_kwargs: null,
      tokenizer_name_or_path: null,
    });
    expect(pTuning.serializeConfig(createPromptEncoderConfig({ numVirtualTokens: 8 }))).toEqual({
      ...base,
      ...sizes,
      peft_type: 'P_TUNING',
      encoder_reparameterization_type: 'MLP',
      encoder_hidden_size: null,
      encoder_num_layers: 2,
      encoder_dropout: 0,
    });
    expect(prefixTuning.serializeConfig(createPrefixTuningConfig({ numVirtualTokens: 8 }))).toEqual({
      ...base,
      ...sizes,
      peft_type: 'PREFIX_TUNING',
      encoder_hidden_size: null,
      prefix_projection: false,
    });
  });

  it('refuses what PEFT refuses, naming the field', () => {
    expect(() => createPromptTuningConfig({})).toThrow(/num_virtual_tokens/);
    expect(() => createPromptTuningConfig({ numVirtualTokens: 4, promptTuningInit: 'TEXT', promptTuningInitText: 'hi' })).toThrow(/tokenizer_name_or_path can't be null/);
    expect(() => createPromptTuningConfig({ numVirtualTokens: 4, promptTuningInit: 'TEXT', tokenizerNameOrPath: 'gpt2' })).toThrow(/prompt_tuning_init_text can't be null/);
    expect(() => createPromptTuningConfig({ numVirtualTokens: 4, tokenizerKwargs: { use_fast: true } })).toThrow(/tokenizer_kwargs only valid/);
    expect(() => createPromptEncoderConfig({ numVirtualTokens: 4, encoderReparameterizationType: 'GRU' as 'MLP' })).toThrow(InvalidConfigError);
    expect(() => createPromptEncoderConfig({ numVirtualTokens: 4, encoderDropout: 1 })).toThrow(/encoder_dropout/);
    expect(() => prefixTuning.parseConfig({ peft_type: 'PREFIX_TUNING', num_virtual_tokens: 2, target_modules: ['c_attn'] })).toThrow(/no "target_modules"/);
  });

  it('fills token_dim, num_layers, num_attention_heads, num_transformer_submodules and encoder_hidden_size from the model as PEFT does', () => {
    const prompt = getPeftModel(tinyCausalLm(), { peft_type: 'PROMPT_TUNING', num_virtual_tokens: 3, task_type: 'CAUSAL_LM' });
    expect(promptTuning.serializeConfig(prompt.peftConfig.default as never)).toMatchObject({ token_dim: 16, num_layers: 2, num_attention_heads: 2, num_transformer_submodules: 1 });
    const encoder = getPeftModel(tinyCausalLm(), { peft_type: 'P_TUNING', num_virtual_tokens: 3 });
    expect(pTuning.serializeConfig(encoder.peftConfig.default as never)).toMatchObject({ token_dim: 16, encoder_hidden_size: 16 });
    const explicit = getPeftModel(tinyCausalLm(), { peft_type: 'P_TUNING', num_virtual_tokens: 3, encoder_hidden_size: 5 });
    expect(pTuning.serializeConfig(explicit.peftConfig.default as never)).toMatchObject({ encoder_hidden_size: 5 });
    const llama = getPeftModel(tinyCausalLm(TINY_LLAMA), { peft_type: 'PROMPT_TUNING', num_virtual_tokens: 3 });
    expect(promptTuning.serializeConfig(llama.peftConfig.default as never)).toMatchObject({ token_dim: 16, num_layers: 2, num_attention_heads: 4 });
    for (const model of [prompt, encoder, explicit, llama]) model.unload();
  });

  it('prefix tuning on grouped-query attention holds the key/value heads (PEFT #1901; 0.11.1 fails on such models)', () => {
    const llama = getPeftModel(tinyCausalLm(TINY_LLAMA), { peft_type: 'PREFIX_TUNING', num_virtual_tokens: 3 });
    expect(prefixTuning.serializeConfig(llama.peftConfig.default as never)).toMatchObject({ token_dim: 8, num_attention_heads: 2, encoder_hidden_size: 8 });
    expect(llama.getStateDictShapes()).toEqual({ prompt_embeddings: [3, 2 * 2 * 8] });
    expect(() => getPeftModel(tinyCausalLm(TINY_LLAMA), { peft_type: 'PREFIX_TUNING', num_virtual_tokens: 3, num_attention_heads: 4 })).toThrow(/key\/value heads/);
    llama.unload();
  });

  it('refuses sizes that do not fit the model, and encoder-decoder submodules', () => {
    expect(() => getPeftModel(tinyCausalLm(), { peft_type: 'PROMPT_TUNING', num_virtual_tokens: 3, token_dim: 8 })).toThrow(/token_dim is 8 but the word embedding/);
    expect(() => getPeftModel(tinyCausalLm(), { peft_type: 'PREFIX_TUNING', num_virtual_tokens: 3, num_layers: 3 })).toThrow(/num_layers is 3 but the model has 2/);
    expect(() => getPeftModel(tinyCausalLm(), { peft_type: 'PROMPT_TUNING', num_virtual_tokens: 3, task_type: 'SEQ_2_SEQ_LM' })).toThrow(/num_transformer_submodules 2/);
  });

  it('counts trainable parameters as PEFT: the virtual tokens and the encoder, nothing of the base', () => {
    const base = tinyCausalLm();
    const baseCount = base.countParams();
    const vocab = TINY_GPT2.vocab_size;
    expect(baseCount).toBeGreaterThan(vocab * 16);
    const cases: Array<[Record<string, unknown>, number]> = [
      [{ peft_type: 'PROMPT_TUNING', num_virtual_tokens: 5 }, 5 * 16],
      // embedding + Linear(16,8) + Linear(8,8) + Linear(8,16)
      [{ peft_type: 'P_TUNING', num_virtual_tokens: 5, encoder_hidden_size: 8 }, 5 * 16 + (16 * 8 + 8) + (8 * 8 + 8) + (8 * 16 + 16)],
      // embedding + 2 layers × 2 directions × (W_ih + W_hh + 2 biases) + Linear(8,8) + Linear(8,16), h = 4
      [
        { peft_type: 'P_TUNING', num_virtual_tokens: 5, encoder_reparameterization_type: 'LSTM', encoder_hidden_size: 4 },
        5 * 16 + 2 * (16 * 16 + 16 * 4 + 32) + 2 * (16 * 8 + 16 * 4 + 32) + (8 * 8 + 8) + (8 * 16 + 16),
      ],
      [{ peft_type: 'PREFIX_TUNING', num_virtual_tokens: 5 }, 5 * 2 * 2 * 16],
      [{ peft_type: 'PREFIX_TUNING', num_virtual_tokens: 5, prefix_projection: true, encoder_hidden_size: 8 }, 5 * 16 + (16 * 8 + 8) + (8 * 64 + 64)],
    ];
    for (const [config, trainable] of cases) {
      const peftModel = getPeftModel(tinyCausalLm(), config);
      const [actualTrainable, all] = peftModel.getNbTrainableParameters();
      expect(actualTrainable, JSON.stringify(config)).toBe(trainable);
      expect(all).toBe(baseCount + trainable);
      expect(peftModel.trainableParametersReport()).toMatch(/^trainable params: [\d,]+ \|\| all params: [\d,]+ \|\| trainable%: \d+\.\d{4}$/);
      peftModel.unload();
    }
    // Loaded for inference, nothing trains.
    const frozen = getPeftModel(tinyCausalLm(), { peft_type: 'P_TUNING', num_virtual_tokens: 5, inference_mode: true });
    expect(frozen.getNbTrainableParameters()[0]).toBe(0);
    expect(frozen.getStateDictShapes()).toEqual({ prompt_embeddings: [5, 16] });
    frozen.unload();
  });

  it('warns, as PEFT, that an MLP encoder ignores encoder_num_layers', () => {
    warnings.length = 0;
    getPeftModel(tinyCausalLm(), { peft_type: 'P_TUNING', num_virtual_tokens: 2, encoder_num_layers: 3 }).unload();
    expect(warnings.join('\n')).toMatch(/encoder_num_layers` is ignored/);
  });

  it('refuses merging and several active adapters', async () => {
    const peftModel = getPeftModel(tinyCausalLm(), { peft_type: 'PROMPT_TUNING', num_virtual_tokens: 2 });
    await expect(peftModel.mergeAdapter()).rejects.toSatisfy((error: unknown) => MergeError.isInstance(error));
    await expect(peftModel.mergeAndUnload()).rejects.toThrow(/cannot be merged/);
    peftModel.addAdapter('other', { peft_type: 'PROMPT_TUNING', num_virtual_tokens: 4 });
    expect(() => peftModel.setAdapter(['default', 'other'])).toThrow(AdapterStateError);
    expect(peftModel.activeAdapters).toEqual(['default']);
    expect(() => peftModel.addAdapter('lora', { peft_type: 'PREFIX_TUNING', num_virtual_tokens: 4 })).toThrow(/different PEFT types/);
    peftModel.unload();
  });
});

describe("prompt_tuning_init 'TEXT'", () => {
  const textConfig = { numVirtualTokens: 5, promptTuningInit: 'TEXT' as const, promptTuningInitText: 'abc', tokenizerNameOrPath: 'tiny' };

  it('cuts or repeats the text ids cyclically to the virtual tokens, as PEFT', () => {
    const tokenizer = { encode: (text: string) => ({ inputIds: [...text].map((character) => character.charCodeAt(0) - 96) }) };
    expect(textInitTokenIds(tokenizer, 'abc', 7)).toEqual([1, 2, 3, 1, 2, 3, 1]);
    expect(textInitTokenIds(tokenizer, 'abcdef', 4)).toEqual([1, 2, 3, 4]);
    expect(textInitTokenIds((text: string) => [text.length], 'xy', 2)).toEqual([2, 2]);
  });

  it('starts the virtual tokens at the word embeddings of the text, and is a clear error without a tokenizer', async () => {
    const model = tinyCausalLm();
    expect(() => getPeftModel(model, createPromptTuningConfig(textConfig))).toThrow(/needs a tokenizer/);
    const tokenizer = { encode: () => ({ inputIds: [7, 3, 11] }) };
    const peftModel = getPeftModel(model, createPromptTuningConfig({ ...textConfig, tokenizer }));
    // The tokenizer is not part of the saved config.
    expect(Object.keys(promptTuning.serializeConfig(peftModel.peftConfig.default as never))).not.toContain('tokenizer');
    const before = tf.memory().numTensors;
    const saved = peftModel.getStateDict();
    const wte = model.getLayer('transformer.wte').weights[0]!.read();
    const expected = tf.tidy(() => tf.gather(wte, tf.tensor1d([7, 3, 11, 7, 3], 'int32')));
    expect(await saved.prompt_embeddings!.array()).toEqual(await expected.array());
    tf.dispose([...Object.values(saved), expected]);
    expect(tf.memory().numTensors).toBe(before);
    // Loading a TEXT adapter for inference needs no tokenizer: its values come from the file.
    const inference = getPeftModel(tinyCausalLm(), createPromptTuningConfig({ ...textConfig, inferenceMode: true }));
    expect(inference.getStateDictShapes()).toEqual({ prompt_embeddings: [5, 16] });
    expect(() => getPeftModel(tinyCausalLm(), createPromptTuningConfig({ ...textConfig, tokenizer: { encode: () => ({ inputIds: [99] }) } }))).toThrow(
      /outside the model's vocabulary/,
    );
    peftModel.unload();
    inference.unload();
    expect(model.getLayer('transformer.wte') instanceof PromptEmbedding).toBe(false);
  });
});
