import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPeftModel, registerTuner, setWarningHandler } from '@peftjs/core';
import { maxAbsDifference } from '@peftjs/core/testing';
import { ia3 } from '@peftjs/ia3';
import { lora } from '@peftjs/lora';
import { initBackend } from '@peftjs/runtime';
import { AutoModelForCausalLM, causalLmLoss, dequantizeRows, FrozenWeightVariable, quantizeMatrix, storedWeightOf } from '@peftjs/models';
import { loadPeftCase, type PeftCase } from '../../../test-fixtures/peft-case';
import { loadNativeStore } from '@peftjs/models';

let native = false;
let fixture: PeftCase;

beforeAll(async () => {
  registerTuner(lora);
  registerTuner(ia3);
  native = (await loadNativeStore()) !== undefined;
  fixture = await loadPeftCase('llama-lora');
});
afterAll(async () => {
  tf.dispose(Object.values(fixture.io));
  await tf.setBackend('cpu');
});

/** Loss and gradients of one LoRA step; the frozen weights' reads are counted. */
async function step(
  model: LayersModel,
  ids: tf.Tensor2D,
  like?: LayersModel,
): Promise<{ loss: number; gradients: Record<string, tf.Tensor>; reads: number; names: string[]; model: LayersModel }> {
  const peft = getPeftModel(model, { peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['q_proj', 'v_proj', 'down_proj'], init_lora_weights: false });
  // the same adapter values as `like`'s (the init is random)
  if (like) like.trainableWeights.forEach((weight, index) => peft.model.trainableWeights[index]!.write(weight.read()));
  const trainable = peft.model.trainableWeights.map((weight) => weight.read() as tf.Variable);
  let reads = 0;
  const original = FrozenWeightVariable.prototype.read;
  FrozenWeightVariable.prototype.read = function counted(this: FrozenWeightVariable) {
    reads++;
    return original.call(this);
  };
  try {
    const { value, grads } = tf.variableGrads(() => causalLmLoss(ids, peft.model.apply([ids, tf.onesLike(ids)], { training: true }) as tf.Tensor), trainable);
    const loss = (await value.data())[0]!;
    value.dispose();
    return { loss, gradients: grads, reads, names: peft.model.trainableWeights.map((weight) => weight.name), model: peft.model };
  } finally {
    FrozenWeightVariable.prototype.read = original;
  }
}

describe('training on a store-backed model', () => {
  it.each([
    { store: 'native' as const, backend: 'wasm' },
    { store: 'arrays' as const, backend: 'cpu' },
  ])('a LoRA step through the $store store: the same loss and adapter gradients, no frozen-weight gradient or copy, tensors released', async ({ store, backend }) => {
    if (store === 'native' && !native) return;
    if (backend === 'wasm') await initBackend({ backend: 'wasm' });
    else await tf.setBackend('cpu');
    const ids = fixture.io.input_ids! as tf.Tensor2D;
    const reference = await AutoModelForCausalLM.fromPretrained(fixture.baseDir);
    const stored = await AutoModelForCausalLM.fromPretrained(fixture.baseDir, { dtype: 'float32', frozenStore: store });
    const before = tf.memory().numTensors;
    const expected = await step(reference, ids);
    const actual = await step(stored, ids, expected.model);
    // only LoRA weights train; the stored kernels are never trainable nor read (no dequantised copy) in the step
    expect(actual.names.every((name) => name.includes('lora_'))).toBe(true);
    expect(stored.weights.filter((weight) => FrozenWeightVariable.isFrozenWeightVariable(weight)).every((weight) => !weight.trainable)).toBe(true);
    if (store === 'native') expect(actual.reads).toBe(0);
    expect(Object.keys(actual.gradients).length).toBe(Object.keys(expected.gradients).length);
    expect(Math.abs(actual.loss - expected.loss)).toBeLessThan(1e-5);
    expect(Number.isFinite(actual.loss)).toBe(true);
    tf.dispose([...Object.values(expected.gradients), ...Object.values(actual.gradients)]);
    expect(tf.memory().numTensors).toBe(before + 2 * 6 * 2); // the two adapters' A and B (2 layers × 3 targets each) stay
    reference.dispose();
    stored.dispose();
  });

  it('LoRA gradients through the native store equal the tfjs-variable model’s', async () => {
    if (!native) return;
    await initBackend({ backend: 'wasm' });
    const ids = fixture.io.input_ids! as tf.Tensor2D;
    const reference = await AutoModelForCausalLM.fromPretrained(fixture.baseDir);
    const stored = await AutoModelForCausalLM.fromPretrained(fixture.baseDir, { dtype: 'float32' });
    const a = getPeftModel(reference, { peft_type: 'LORA', r: 2, target_modules: ['q_proj', 'o_proj'], init_lora_weights: false });
    const b = getPeftModel(stored, { peft_type: 'LORA', r: 2, target_modules: ['q_proj', 'o_proj'], init_lora_weights: false });
    // the same adapter values in both
    a.model.trainableWeights.forEach((weight, index) => b.model.trainableWeights[index]!.write(weight.read()));
    const lossOf = (model: LayersModel) => () => causalLmLoss(ids, model.apply([ids, tf.onesLike(ids)], { training: true }) as tf.Tensor);
    const ga = tf.variableGrads(
      lossOf(a.model),
      a.model.trainableWeights.map((weight) => weight.read() as tf.Variable),
    );
    const gb = tf.variableGrads(
      lossOf(b.model),
      b.model.trainableWeights.map((weight) => weight.read() as tf.Variable),
    );
    const namesA = Object.keys(ga.grads);
    const namesB = Object.keys(gb.grads);
    for (let index = 0; index < namesA.length; index++) expect(await maxAbsDifference(gb.grads[namesB[index]!]!, ga.grads[namesA[index]!]!)).toBeLessThan(1e-5);
    tf.dispose([ga.value, gb.value, ...Object.values(ga.grads), ...Object.values(gb.grads)]);
    reference.dispose();
    stored.dispose();
  });

  it('NF4 storage: the model loads with ~1/7 of the float32 bytes, predicts near float32, and merging warns about rounding', async () => {
    await tf.setBackend('cpu');
    const inputs = [fixture.io.input_ids!, fixture.io.attention_mask!];
    const float = await AutoModelForCausalLM.fromPretrained(fixture.baseDir, { dtype: 'float32', frozenStore: 'arrays' });
    const quantized = await AutoModelForCausalLM.fromPretrained(fixture.baseDir, { quantization: 'nf4', doubleQuant: true, frozenStore: native ? 'native' : 'arrays' });
    const bytes = (model: LayersModel) =>
      model.weights.filter((weight) => FrozenWeightVariable.isFrozenWeightVariable(weight)).reduce((sum, weight) => sum + (weight as FrozenWeightVariable).weight.bytes, 0);
    expect(bytes(quantized) / bytes(float)).toBeLessThan(0.14);
    const a = float.predict(inputs) as tf.Tensor;
    const b = quantized.predict(inputs) as tf.Tensor;
    const spread = (await tf.moments(a).variance.data())[0]!;
    expect(await maxAbsDifference(a, b)).toBeLessThan(10 * Math.sqrt(spread));
    expect(await maxAbsDifference(a, b)).toBeGreaterThan(0);
    tf.dispose([a, b]);
    const warnings: string[] = [];
    const previous = setWarningHandler((message) => warnings.push(message));
    try {
      const peft = getPeftModel(quantized, { peft_type: 'LORA', r: 2, target_modules: ['q_proj'], init_lora_weights: false });
      await peft.mergeAdapter();
      expect(warnings.some((message) => message.includes('Merge lora module to 4-bit linear may get different generations due to rounding errors'))).toBe(true);
    } finally {
      setWarningHandler(previous);
    }
    float.dispose();
    quantized.dispose();
  });

  it.each([
    { store: 'native' as const, quantization: 'nf4' as const },
    { store: 'arrays' as const, quantization: 'nf4' as const },
    { store: 'native' as const, quantization: 'int8' as const },
  ])('merging LoRA into a $quantization base ($store store) dequantises, adds ΔW and requantises: the stored weight is quantise(W + ΔW)', async ({ store, quantization }) => {
    if (store === 'native' && !native) return;
    await tf.setBackend('cpu');
    const model = await AutoModelForCausalLM.fromPretrained(fixture.baseDir, { quantization, frozenStore: store });
    const before = tf.memory().numTensors;
    const stored = storedWeightOf(model.getLayer('model.layers.0.self_attn.q_proj'))!;
    const original = stored.read();
    const peft = getPeftModel(model, { peft_type: 'LORA', r: 2, lora_alpha: 8, target_modules: ['q_proj'], init_lora_weights: false });
    const weight = (part: string) => peft.model.trainableWeights.find((candidate) => candidate.name.includes('layers.0.self_attn.q_proj') && candidate.name.includes(part))!;
    // ΔW in torch's [out, in] layout: scaling · (A_kernel · B_kernel)ᵀ, scaling = alpha / r = 4.
    const delta = tf.tidy(() => tf.transpose(tf.mul(tf.matMul(weight('lora_A').read(), weight('lora_B').read()), 4)));
    const sum = Float32Array.from(await delta.data(), (value, index) => value + original[index]!);
    delta.dispose();
    const expected = dequantizeRows(quantizeMatrix(sum, stored.rows, stored.cols, quantization));
    const warnings: string[] = [];
    const previous = setWarningHandler((message) => warnings.push(message));
    try {
      await peft.mergeAdapter();
    } finally {
      setWarningHandler(previous);
    }
    const bits = quantization === 'int8' ? '8-bit' : '4-bit';
    expect(warnings.filter((message) => message.includes(`Merge lora module to ${bits} linear may get different generations due to rounding errors`)).length).toBe(2); // one per merged q_proj (2 layers)
    const merged = stored.read();
    let fromExpected = 0;
    let fromExact = 0;
    for (let index = 0; index < merged.length; index++) {
      fromExpected = Math.max(fromExpected, Math.abs(merged[index]! - expected[index]!));
      fromExact = Math.max(fromExact, Math.abs(merged[index]! - sum[index]!));
    }
    // The store holds exactly the requantised sum (the same codes as the reference quantiser) …
    expect(fromExpected).toBeLessThan(1e-6);
    // … which is not the exact sum: the merge rounded, as PEFT's warning says.
    expect(fromExact).toBeGreaterThan(1e-4);
    expect(stored.storage).toBe(quantization);
    expect(tf.memory().numTensors).toBe(before + 4); // the adapter's A and B (2 layers)
    model.dispose();
  });

  it('IA3 wraps store-backed layers as Dense and matches the llama-ia3 fixture', async () => {
    await tf.setBackend('cpu');
    const ia3Case = await loadPeftCase('llama-ia3');
    const { readFile } = await import('node:fs/promises');
    const { loadSafetensors } = await import('@peftjs/hub');
    const { peftFixturePath: fixturePath } = await import('../../../test-fixtures/index');
    const model = await AutoModelForCausalLM.fromPretrained(ia3Case.baseDir, { dtype: 'float32', frozenStore: native ? 'native' : 'arrays' });
    if (native) await initBackend({ backend: 'wasm' });
    const peft = getPeftModel(model, JSON.parse(await readFile(fixturePath('llama-ia3', 'adapter', 'adapter_config.json'), 'utf8')));
    const tensors = await loadSafetensors(fixturePath('llama-ia3', 'adapter', 'adapter_model.safetensors'));
    peft.loadStateDict(tensors);
    tf.dispose(Object.values(tensors));
    const adapted = peft.model.predict([ia3Case.io.input_ids!, ia3Case.io.attention_mask!]) as tf.Tensor;
    expect(await maxAbsDifference(adapted, ia3Case.io.expected_adapted!)).toBeLessThan(ia3Case.json.atol + 1e-5);
    adapted.dispose();
    await peft.mergeAdapter();
    const merged = peft.model.predict([ia3Case.io.input_ids!, ia3Case.io.attention_mask!]) as tf.Tensor;
    expect(await maxAbsDifference(merged, ia3Case.io.expected_merged!)).toBeLessThan(ia3Case.json.atol + 1e-5);
    merged.dispose();
    peft.model.dispose();
    tf.dispose(Object.values(ia3Case.io));
  });
});
