import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { readFile } from 'node:fs/promises';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPeftModel, registerTuner, type PeftModel } from '@peftjs/core';
import { maxAbsDifference } from '@peftjs/core/testing';
import { loadSafetensors } from '@peftjs/hub';
import { lora } from '@peftjs/lora';
import { initBackend } from '@peftjs/runtime';
import {
  AutoModelForCausalLM,
  FrozenEmbedding,
  FrozenLinear,
  FrozenWeightVariable,
  loadPretrained,
  type ModelTask,
  saveModel,
  STORE_MAT_MUL_KERNEL,
  storedWeightOf,
} from '@peftjs/models';
import { peftFixturePath as fixturePath } from '../../../test-fixtures/index';
import { loadPeftCase, type PeftCase } from '../../../test-fixtures/peft-case';
import { loadNativeStore, nativeStoreUnavailableReason } from '@peftjs/models';

/**
 * The store gives the logits of today's path: float32 weights read in place (native kernels on
 * wasm) or from JS arrays (any backend), for the base, LoRA-adapted and merged models of the
 * PEFT fixtures.
 */
const diffs: Record<string, number> = {};
let native = false;

beforeAll(async () => {
  registerTuner(lora);
  native = (await loadNativeStore()) !== undefined;
  if (!native) console.warn(`native frozen-weight store tests skipped: ${nativeStoreUnavailableReason()}`);
});
afterAll(async () => {
  console.log('max |diff| store vs tfjs variables:', diffs);
  await tf.setBackend('cpu');
});

async function adapt(model: LayersModel, caseName: string): Promise<PeftModel> {
  const config = JSON.parse(await readFile(fixturePath(caseName, 'adapter', 'adapter_config.json'), 'utf8'));
  const peft = getPeftModel(model, config);
  const tensors = await loadSafetensors(fixturePath(caseName, 'adapter', 'adapter_model.safetensors'));
  peft.loadStateDict(tensors);
  tf.dispose(Object.values(tensors));
  return peft;
}

async function within(name: string, actual: tf.Tensor, expected: tf.Tensor, tolerance: number): Promise<void> {
  diffs[name] = await maxAbsDifference(actual, expected);
  expect(diffs[name]).toBeLessThan(tolerance);
}

const modes = [
  { store: 'native' as const, backend: 'wasm' },
  { store: 'arrays' as const, backend: 'cpu' },
];

describe.each(['llama-lora', 'gpt2-lora'])('%s through the frozen-weight store', (caseName) => {
  let fixture: PeftCase;
  beforeAll(async () => {
    fixture = await loadPeftCase(caseName);
  });
  afterAll(() => tf.dispose(Object.values(fixture.io)));

  it.each(modes)('$store store on $backend: base, adapted and merged logits equal the tfjs-variable model', async ({ store, backend }) => {
    if (store === 'native' && !native) return;
    if (backend === 'wasm') await initBackend({ backend: 'wasm' });
    else await tf.setBackend('cpu');
    const inputs = [fixture.io.input_ids!, fixture.io.attention_mask!];
    const reference = await AutoModelForCausalLM.fromPretrained(fixture.baseDir);
    const stored = await AutoModelForCausalLM.fromPretrained(fixture.baseDir, { dtype: 'float32', frozenStore: store });
    const frozen = stored.layers.filter((layer) => layer instanceof FrozenLinear);
    expect(frozen.length).toBeGreaterThan(0);
    if (store === 'native') {
      // the native kernels read the weights in place from the mapped float32 checkpoint
      expect(tf.getKernel(STORE_MAT_MUL_KERNEL, 'wasm')).toBeDefined();
      expect(frozen.every((layer) => storedWeightOf(layer)!.entry !== undefined)).toBe(true);
      if (caseName === 'llama-lora') expect(frozen.every((layer) => storedWeightOf(layer)!.mapped)).toBe(true);
    }
    const before = tf.memory().numTensors;

    const baseExpected = reference.predict(inputs) as tf.Tensor;
    const baseActual = stored.predict(inputs) as tf.Tensor;
    await within(`${caseName} ${store} base`, baseActual, baseExpected, 1e-5);
    tf.dispose([baseExpected, baseActual]);
    expect(tf.memory().numTensors).toBe(before);

    const peftReference = await adapt(reference, caseName);
    const peftStored = await adapt(stored, caseName);
    const adaptedExpected = peftReference.model.predict(inputs) as tf.Tensor;
    const adaptedActual = peftStored.model.predict(inputs) as tf.Tensor;
    await within(`${caseName} ${store} adapted`, adaptedActual, adaptedExpected, 1e-5);
    await within(`${caseName} ${store} adapted vs PEFT`, adaptedActual, fixture.io.expected_adapted!, fixture.json.atol + 1e-5);
    tf.dispose([adaptedExpected, adaptedActual]);

    // merge → unmerge round trip through the store, then merge and unload
    await peftStored.mergeAdapter();
    const mergedActual = peftStored.model.predict(inputs) as tf.Tensor;
    await within(`${caseName} ${store} merged in the store vs PEFT`, mergedActual, fixture.io.expected_merged!, fixture.json.atol + 1e-5);
    mergedActual.dispose();
    await peftStored.unmergeAdapter();
    const unmerged = peftStored.model.predict(inputs) as tf.Tensor;
    await within(`${caseName} ${store} unmerged vs PEFT adapted`, unmerged, fixture.io.expected_adapted!, fixture.json.atol + 1e-5);
    unmerged.dispose();

    const merged = await peftStored.mergeAndUnload();
    const unloadedLogits = merged.predict(inputs) as tf.Tensor;
    await within(`${caseName} ${store} merge-and-unload vs PEFT`, unloadedLogits, fixture.io.expected_merged!, fixture.json.atol + 1e-5);
    unloadedLogits.dispose();
    // saving a merged store-backed model reads the weights back from the store
    const state = await saveModelToMemory(merged);
    const theirs = await loadSafetensors(fixturePath(caseName, 'merged', 'model.safetensors'));
    let worst = 0;
    for (const key of Object.keys(theirs)) worst = Math.max(worst, await maxAbsDifference(state[key]!, theirs[key]!));
    diffs[`${caseName} ${store} merged file`] = worst;
    expect(worst).toBeLessThan(1e-5);
    tf.dispose([...Object.values(state), ...Object.values(theirs)]);
    merged.dispose();
    peftReference.model.dispose();
    expect(merged.weights.some((weight) => FrozenWeightVariable.isFrozenWeightVariable(weight))).toBe(true);
  });
});

async function saveModelToMemory(model: LayersModel): Promise<Record<string, tf.Tensor>> {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), 'peftjs-store-'));
  try {
    await saveModel(model, dir);
    return await loadSafetensors(join(dir, 'model.safetensors'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('AutoPeftModel through the store', () => {
  it('loads the base with the storage options and gives the adapted logits', async () => {
    await tf.setBackend('cpu');
    const { AutoPeftModelForCausalLM } = await import('@peftjs/models');
    const fixture = await loadPeftCase('llama-lora');
    const peft = await AutoPeftModelForCausalLM.fromPretrained(fixturePath('llama-lora', 'adapter'), {
      baseModelNameOrPath: fixture.baseDir,
      dtype: 'float32',
      frozenStore: 'arrays',
    });
    expect(peft.model.weights.some((weight) => FrozenWeightVariable.isFrozenWeightVariable(weight))).toBe(true);
    const logits = peft.model.predict([fixture.io.input_ids!, fixture.io.attention_mask!]) as tf.Tensor;
    expect(await maxAbsDifference(logits, fixture.io.expected_adapted!)).toBeLessThan(fixture.json.atol + 1e-5);
    tf.dispose([logits, ...Object.values(fixture.io)]);
    peft.model.dispose();
  });
});

describe('head projections (for a chunked loss)', () => {
  it('a stored tied head and an untied stored lm_head give the logits and input gradient of the head', async () => {
    await tf.setBackend('cpu');
    const { TiedLMHead } = await import('@peftjs/models');
    for (const caseName of ['gpt2-lora', 'llama-lora']) {
      const fixture = await loadPeftCase(caseName);
      const model = await AutoModelForCausalLM.fromPretrained(fixture.baseDir, { dtype: 'float32', frozenStore: 'arrays' });
      const head = model.getLayer('lm_head') as InstanceType<typeof TiedLMHead> | FrozenLinear;
      const projection = head.projection();
      const hidden = tf.randomNormal([5, projection.hiddenSize], 0, 1, 'float32', 7) as tf.Tensor2D;
      const before = tf.memory().numTensors;
      const expected = head.apply(hidden) as tf.Tensor;
      const logits = projection.logits(hidden);
      expect(await maxAbsDifference(logits, expected)).toBeLessThan(1e-6);
      const dLogits = tf.onesLike(logits) as tf.Tensor2D;
      const gradient = projection.inputGradient(dLogits);
      const viaTape = tf.grad((x: tf.Tensor) => tf.sum(projection.logits(x as tf.Tensor2D)))(hidden);
      expect(await maxAbsDifference(gradient, viaTape)).toBeLessThan(1e-5);
      tf.dispose([expected, logits, dLogits, gradient, viaTape]);
      expect(tf.memory().numTensors).toBe(before);
      hidden.dispose();
      tf.dispose(Object.values(fixture.io));
      model.dispose();
    }
  });
});

describe.each([
  ['gpt2-lora', 'causal-lm', ['transformer.wte', 'transformer.wpe']],
  ['bert-seqcls-lora', 'sequence-classification', ['bert.embeddings.word_embeddings', 'bert.embeddings.position_embeddings', 'bert.embeddings.token_type_embeddings']],
  ['mt5-lora-seq2seq', 'seq2seq-lm', ['shared']],
] as Array<[string, ModelTask, string[]]>)('%s: every embedding table in the store', (caseName, task, tables) => {
  it.each(modes)('$store store on $backend: the tables are stored, the logits are PEFT’s base logits', async ({ store, backend }) => {
    if (store === 'native' && !native) return;
    if (backend === 'wasm') await initBackend({ backend: 'wasm' });
    else await tf.setBackend('cpu');
    const fixture = await loadPeftCase(caseName);
    const model = await loadPretrained(fixture.baseDir, task, { dtype: 'float32', frozenStore: store });
    for (const name of tables) {
      const layer = model.getLayer(name);
      expect(layer, name).toBeInstanceOf(FrozenEmbedding);
      expect(storedWeightOf(layer)!.storage).toBe('float32');
    }
    // The model's inputs by name (input_ids, attention_mask, token_type_ids, decoder_input_ids).
    const inputs = model.inputs.map((input) => fixture.io[input.name.replace(/_\d+$/, '')]!);
    expect(inputs.every((input) => input !== undefined)).toBe(true);
    const before = tf.memory().numTensors;
    const logits = model.predict(inputs) as tf.Tensor;
    await within(`${caseName} ${store} stored embeddings vs PEFT base`, logits, fixture.io.expected_base!, fixture.json.atol + 1e-5);
    logits.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(Object.values(fixture.io));
    model.dispose();
  });
});
