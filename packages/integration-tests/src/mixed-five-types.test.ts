import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { getLayerByPath, getPeftModel, registerTuner, setWarningHandler, TunerLayer, type PeftModel } from '@peftjs/core';
import { maxAbsDifference, maxCloseViolation } from '@peftjs/core/testing';
import { fromPretrained, loadAdapter, savePretrained } from '@peftjs/hub';
import { adalora, adaloraLayers } from '@peftjs/adalora';
import { loha } from '@peftjs/loha';
import { lokr } from '@peftjs/lokr';
import { lora } from '@peftjs/lora';
import { oft } from '@peftjs/oft';

beforeAll(async () => {
  await tf.setBackend('cpu');
  for (const tuner of [lora, loha, lokr, oft, adalora]) registerTuner(tuner);
  setWarningHandler(() => {});
});

const TARGETS = ['lin0', 'lin1'];
// Each adapter added later wraps the layers of those added before it.
const ADAPTERS = [
  ['adp_lora', { peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: TARGETS, init_lora_weights: false }],
  ['adp_loha', { peft_type: 'LOHA', r: 2, alpha: 3, target_modules: TARGETS, init_weights: false }],
  ['adp_lokr', { peft_type: 'LOKR', r: 2, alpha: 2, target_modules: TARGETS, init_weights: false, decompose_both: true }],
  ['adp_oft', { peft_type: 'OFT', r: 2, target_modules: TARGETS, init_weights: false }],
  ['adp_adalora', { peft_type: 'ADALORA', init_r: 3, target_r: 2, lora_alpha: 5, target_modules: TARGETS, init_lora_weights: false }],
] as const;
const NAMES = ADAPTERS.map(([name]) => name);

/** lin0 (6 → 8, relu inside the Dense layer, so every layer must add before it) and lin1 (8 → 4), fixed weights. */
function baseModel(): tfl.LayersModel {
  const input = tfl.input({ shape: [6] });
  const lin0 = tfl.layers.dense({ units: 8, activation: 'relu', name: 'lin0' });
  const lin1 = tfl.layers.dense({ units: 4, name: 'lin1' });
  const model = tfl.model({ inputs: input, outputs: lin1.apply(lin0.apply(input)) as tfl.SymbolicTensor });
  for (const [index, weight] of model.weights.entries()) {
    const value = tf.randomNormal(weight.shape as number[], 0, 0.5, 'float32', 11 + index);
    weight.write(value);
    value.dispose();
  }
  return model;
}

/** A tensor of an adapter's state dict by layer and PEFT name (`lora_A` matches `...lin0.lora_A.weight` and `...lin0.lora_A`). */
function pick(state: Record<string, tf.Tensor>, layer: string, name: string): tf.Tensor2D | undefined {
  const key = Object.keys(state).find((candidate) => new RegExp(`\\.${layer}\\.${name}(\\.weight)?$`).test(candidate));
  return key ? (state[key] as tf.Tensor2D) : undefined;
}

function kron(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const [m, n] = a.shape;
  const [p, q] = b.shape;
  return tf.reshape(tf.mul(tf.reshape(a, [m, 1, n, 1]), tf.reshape(b, [1, p, 1, q])), [m * p, n * q]) as tf.Tensor2D;
}

/** Gauss-Jordan inverse in float64, independent of the OFT package's own inverse. */
function invert(matrix: number[][]): number[][] {
  const n = matrix.length;
  const rows = matrix.map((row, i) => [...row, ...row.map((_, j) => (i === j ? 1 : 0))]);
  for (let column = 0; column < n; column++) {
    let pivot = column;
    for (let row = column + 1; row < n; row++) if (Math.abs(rows[row]![column]!) > Math.abs(rows[pivot]![column]!)) pivot = row;
    [rows[column], rows[pivot]] = [rows[pivot]!, rows[column]!];
    const lead = rows[column]![column]!;
    rows[column] = rows[column]!.map((value) => value / lead);
    for (let row = 0; row < n; row++) {
      if (row === column) continue;
      const factor = rows[row]![column]!;
      rows[row] = rows[row]!.map((value, j) => value - factor * rows[column]![j]!);
    }
  }
  return rows.map((row) => row.slice(n));
}

function multiply(a: number[][], b: number[][]): number[][] {
  return a.map((row) => b[0]!.map((_, j) => row.reduce((sum, value, k) => sum + value * b[k]![j]!, 0)));
}

/** OFT's R `[out, out]` from oft_r `[blocks, n, n]`: block-diagonal Cayley transforms (I − S)(I + S)⁻¹, S = (Q − Qᵀ)/2. */
async function oftRotation(oftR: tf.Tensor, out: number): Promise<tf.Tensor2D> {
  const blocks = (await oftR.array()) as number[][][];
  const n = blocks[0]!.length;
  const full = Array.from({ length: blocks.length * n }, () => new Array<number>(blocks.length * n).fill(0));
  blocks.forEach((block, index) => {
    const skew = block.map((row, i) => row.map((value, j) => (value - block[j]![i]!) / 2));
    const minus = skew.map((row, i) => row.map((value, j) => (i === j ? 1 : 0) - value));
    const plus = skew.map((row, i) => row.map((value, j) => (i === j ? 1 : 0) + value));
    const cayley = multiply(minus, invert(plus));
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) full[index * n + i]![index * n + j] = cayley[i]![j]!;
  });
  return tf.tensor2d(full.slice(0, out).map((row) => row.slice(0, out)));
}

interface LayerReference {
  /** Each additive adapter's ΔW, tfjs layout `[in, out]`. */
  deltas: Record<string, tf.Tensor2D>;
  rotation: tf.Tensor2D;
}

/** Each adapter's ΔW (or R) from its own saved parameters with PEFT 0.11.1's formulas, torch `[out, in]` turned to `[in, out]`. */
async function layerReference(states: Record<string, Record<string, tf.Tensor>>, layer: string, out: number): Promise<LayerReference> {
  const get = (adapter: string, name: string) => pick(states[adapter]!, layer, name);
  const lokrFactor = (index: 1 | 2): tf.Tensor2D => get('adp_lokr', `lokr_w${index}`) ?? tf.matMul(get('adp_lokr', `lokr_w${index}_a`)!, get('adp_lokr', `lokr_w${index}_b`)!);
  const deltas = tf.tidy(() => ({
    adp_lora: tf.transpose(tf.mul(tf.matMul(get('adp_lora', 'lora_B')!, get('adp_lora', 'lora_A')!), 4 / 2)) as tf.Tensor2D,
    adp_loha: tf.transpose(
      tf.mul(tf.mul(tf.matMul(get('adp_loha', 'hada_w1_a')!, get('adp_loha', 'hada_w1_b')!), tf.matMul(get('adp_loha', 'hada_w2_a')!, get('adp_loha', 'hada_w2_b')!)), 3 / 2),
    ) as tf.Tensor2D,
    adp_lokr: tf.transpose(tf.mul(kron(lokrFactor(1), lokrFactor(2)), 2 / 2)) as tf.Tensor2D,
    adp_adalora: tf.transpose(
      tf.mul(tf.matMul(get('adp_adalora', 'lora_B')!, tf.mul(get('adp_adalora', 'lora_A')!, get('adp_adalora', 'lora_E')!)), 5 / (3 + 1e-5)),
    ) as tf.Tensor2D,
  }));
  return { deltas, rotation: await oftRotation(get('adp_oft', 'oft_r')!, out) };
}

/**
 * The expected output with the given adapters active, from the base weights and the references:
 * pre-activation = (x·(W + Σ ΔW added before OFT))·R + b + x·Σ ΔW added after OFT (OFT rotates what
 * the layers it wraps give, around the bias; the layers wrapping it add their deltas), then the activation.
 */
function expectedOutput(base: tfl.LayersModel, references: Record<string, LayerReference>, order: readonly string[], active: readonly string[], x: tf.Tensor2D): tf.Tensor {
  const oftAt = order.indexOf('adp_oft');
  return tf.tidy(() => {
    let hidden: tf.Tensor2D = x;
    for (const layer of TARGETS) {
      const [kernel, bias] = getLayerByPath(base, layer)!.getWeights() as [tf.Tensor2D, tf.Tensor1D];
      const reference = references[layer]!;
      const delta = (inside: boolean) =>
        Object.entries(reference.deltas)
          .filter(([name]) => active.includes(name) && order.indexOf(name) < oftAt === inside)
          .reduce<tf.Tensor2D>((sum, [, value]) => tf.add(sum, value), tf.zerosLike(kernel));
      let output: tf.Tensor2D = tf.matMul(hidden, tf.add(kernel, delta(true)));
      if (active.includes('adp_oft')) output = tf.matMul(output, reference.rotation);
      output = tf.add(tf.add(output, bias), tf.matMul(hidden, delta(false)));
      hidden = layer === 'lin0' ? tf.relu(output) : output;
    }
    return hidden;
  });
}

function configOf(name: string): Record<string, unknown> {
  return ADAPTERS.find(([candidate]) => candidate === name)![1] as Record<string, unknown>;
}

describe('mixed model with LoRA, LoHa, LoKr, OFT and AdaLoRA on the same layers', () => {
  it.each([
    ['LoRA innermost, OFT inside AdaLoRA', NAMES],
    ['AdaLoRA innermost, OFT inside LoKr, LoHa and LoRA', [...NAMES].reverse()],
  ])('%s: all active equals the reference; each alone equals its own model; disabled, merged, unloaded, saved and reloaded', async (_, order) => {
    const before = tf.memory().numTensors;
    const x = tf.randomNormal([5, 6], 0, 1, 'float32', 3) as tf.Tensor2D;
    const base = baseModel();
    const baseOutput = base.predict(x) as tf.Tensor;
    const check = async (label: string, actual: tf.Tensor, expected: tf.Tensor, tolerance = 1e-5) => {
      try {
        expect(await maxCloseViolation(actual, expected, tolerance, tolerance), label).toBe(0);
      } finally {
        // Expected tensors made for one check are freed with it; the shared ones are freed at the end.
        tf.dispose(kept.includes(expected) ? [actual] : [actual, expected]);
      }
    };
    const kept: tf.Tensor[] = [baseOutput];

    const [firstName, ...rest] = order as [string, ...string[]];
    const peftModel: PeftModel = getPeftModel(baseModel(), configOf(firstName), { mixed: true, adapterName: firstName });
    for (const name of rest) peftModel.addAdapter(name, configOf(name));
    peftModel.setAdapter(NAMES);
    const stack: string[] = [];
    for (let layer: unknown = getLayerByPath(peftModel.model, 'lin0'); TunerLayer.isTunerLayer(layer); layer = layer.baseLayer) stack.push(layer.peftType);
    // The rank allocator and the orthogonal regularisation find AdaLoRA's layers wherever they sit in the stack.
    expect(adaloraLayers(peftModel, 'adp_adalora').map((entry) => entry.path)).toEqual(TARGETS);
    expect(stack).toEqual([...order].reverse().map((name) => configOf(name).peft_type));

    const states = Object.fromEntries(NAMES.map((name) => [name, peftModel.getStateDict(name)]));
    const references = { lin0: await layerReference(states, 'lin0', 8), lin1: await layerReference(states, 'lin1', 4) };
    const predict = () => peftModel.model.predict(x) as tf.Tensor;

    const expectedAll = expectedOutput(base, references, order, NAMES, x);
    kept.push(expectedAll);
    expect(await maxAbsDifference(expectedAll, baseOutput)).toBeGreaterThan(1e-2);
    await check('all five active', predict(), expectedAll);
    await check('disabled', peftModel.disableAdapter(predict), baseOutput);
    await check('all five after disable', predict(), expectedAll);

    for (const name of NAMES) {
      peftModel.setAdapter(name);
      const alone = predict();
      await check(`${name} alone against the reference`, alone.clone(), expectedOutput(base, references, order, [name], x));
      const single = getPeftModel(baseModel(), configOf(name), { adapterName: name });
      single.loadStateDict(states[name]!, name);
      await check(`${name} alone against its single-adapter model`, alone, single.model.predict(x) as tf.Tensor);
      for (const weight of single.unload().weights) weight.dispose();
    }
    peftModel.setAdapter(NAMES);

    // Merge and unmerge run in opposite orders (innermost first, outermost first), so OFT's rotation is taken out exactly.
    await peftModel.mergeAdapter();
    await check('merged', predict(), expectedAll, 1e-4);
    peftModel.unmergeAdapter();
    await check('unmerged', predict(), expectedAll, 1e-4);

    const dir = await mkdtemp(join(tmpdir(), 'peftjs-mixed-five-'));
    try {
      await savePretrained(peftModel, dir);
      const reloaded = await fromPretrained(baseModel(), join(dir, firstName), { mixed: true, adapterName: firstName });
      for (const name of rest) await loadAdapter(reloaded, join(dir, name), name);
      reloaded.setAdapter(NAMES);
      await check('saved and reloaded', reloaded.model.predict(x) as tf.Tensor, expectedAll);
      const unloaded = reloaded.unload();
      await check('unload', unloaded.predict(x) as tf.Tensor, baseOutput);
      for (const weight of unloaded.weights) weight.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }

    const merged = await peftModel.mergeAndUnload();
    expect(merged.layers.some((layer) => TunerLayer.isTunerLayer(layer))).toBe(false);
    await check('merge_and_unload', merged.predict(x) as tf.Tensor, expectedAll, 1e-4);

    for (const weight of [...merged.weights, ...base.weights]) weight.dispose();
    for (const state of Object.values(states)) tf.dispose(Object.values(state));
    for (const reference of Object.values(references)) tf.dispose([...Object.values(reference.deltas), reference.rotation]);
    tf.dispose([x, baseOutput, expectedAll]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
