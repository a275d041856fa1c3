import * as tf from '@tensorflow/tfjs-core';
import { AdapterStateError, InvalidConfigError, ModulesToSaveLayer, namedLayers, NoSuchAdapterError, type PeftModel } from '@peftjs/core';
import { isPissaInit, LORA_PEFT_TYPE, type LoraConfig } from './lora-config';
import { LoraLayer } from './lora-layer';
import { dareLinear, dareTies, magnitudePrune, quantile, taskArithmetic, ties, type MajoritySignMethod } from './merge-utils';
import { matrix, seededRandom, svdOfProduct, truncatedSvd, type Matrix, type Svd } from './svd';

export const COMBINATION_TYPES = [
  'svd',
  'linear',
  'cat',
  'ties',
  'ties_svd',
  'dare_ties',
  'dare_linear',
  'dare_ties_svd',
  'dare_linear_svd',
  'magnitude_prune',
  'magnitude_prune_svd',
] as const;
export type CombinationType = (typeof COMBINATION_TYPES)[number];

export interface AddWeightedAdapterOptions {
  /** How to combine (PEFT's default: `'svd'`). */
  combinationType?: CombinationType;
  /** Rank of the `*svd` results (default: the largest source rank). */
  svdRank?: number | null;
  /** Quantile at which the `*svd` factors are clamped (e.g. 0.99), or null. */
  svdClamp?: number | null;
  /** Fraction kept by `ties`, `dare_*` and `magnitude_prune*` (required for them). */
  density?: number | null;
  /** TIES sign election: `'total'` (sign of the sum) or `'frequency'` (sign of the sign count). */
  majoritySignMethod?: MajoritySignMethod;
  /**
   * `'exact'` (default): the mathematically intended results — `linear` is exactly Σ wᵢ·ΔWᵢ (stacked
   * factors), `*svd` scale each adapter once, DARE rescales by 1/density.
   * `'peft-0.11.1'`: PEFT 0.11.1's numbers, defects included — `linear` combines A and B separately
   * (cross terms), `*svd` apply the scaling twice, DARE does not rescale.
   */
  compatibility?: 'exact' | 'peft-0.11.1';
  /** Seed of DARE's random masks (and of the randomized SVD used on large dense deltas). */
  seed?: number;
}

const FACTOR_TYPES: readonly CombinationType[] = ['linear', 'ties', 'dare_linear', 'dare_ties', 'magnitude_prune'];
const NEEDS_DENSITY: readonly CombinationType[] = ['ties', 'ties_svd', 'dare_ties', 'dare_linear', 'dare_ties_svd', 'dare_linear_svd', 'magnitude_prune', 'magnitude_prune_svd'];

function loraLayers(peftModel: PeftModel): LoraLayer[] {
  return namedLayers(peftModel.model)
    .map((entry) => entry.layer)
    .filter((layer): layer is LoraLayer => layer instanceof LoraLayer);
}

async function read2d(tensor: tf.Tensor): Promise<Matrix> {
  const data = await tensor.data();
  return matrix(tensor.shape[0]!, tensor.shape[1]!, data);
}

/** ΔW = s·B·A as a dense `[out, fan-in]` matrix. */
function denseDelta(a: Matrix, b: Matrix, scaling: number): Matrix {
  const out = new Float64Array(b.rows * a.cols);
  for (let i = 0; i < b.rows; i++) {
    for (let k = 0; k < b.cols; k++) {
      const value = b.data[i * b.cols + k]! * scaling;
      if (value === 0) continue;
      for (let j = 0; j < a.cols; j++) out[i * a.cols + j] += value * a.data[k * a.cols + j]!;
    }
  }
  return { rows: b.rows, cols: a.cols, data: out };
}

/** Stacks `[rows_i, cols]` blocks (A factors) into `[rank, cols]`, zero-padded. */
function stackRows(blocks: readonly Matrix[], rank: number, cols: number): Matrix {
  const out = matrix(rank, cols);
  let offset = 0;
  for (const block of blocks) {
    out.data.set(block.data, offset * cols);
    offset += block.rows;
  }
  return out;
}

/** Stacks `[rows, cols_i]` blocks (B factors) side by side into `[rows, rank]`, zero-padded. */
function stackColumns(blocks: readonly Matrix[], rows: number, rank: number): Matrix {
  const out = matrix(rows, rank);
  let offset = 0;
  for (const block of blocks) {
    for (let i = 0; i < rows; i++) for (let j = 0; j < block.cols; j++) out.data[i * rank + offset + j] = block.data[i * block.cols + j]!;
    offset += block.cols;
  }
  return out;
}

function scaled(a: Matrix, factor: number): Matrix {
  return { rows: a.rows, cols: a.cols, data: a.data.map((value) => value * factor) };
}

/** B = U·diag(S), A = Vᵀ, truncated or zero-padded to `rank`, optionally clamped at a quantile. */
function factorsFromSvd(svd: Svd, rank: number, clamp: number | null): { a: Matrix; b: Matrix } {
  const rows = svd.u.rows;
  const cols = svd.v.rows;
  const k = Math.min(rank, svd.s.length);
  const b = matrix(rows, rank);
  const a = matrix(rank, cols);
  for (let j = 0; j < k; j++) {
    const sigma = svd.s[j]!;
    for (let i = 0; i < rows; i++) b.data[i * rank + j] = svd.u.data[i * svd.u.cols + j]! * sigma;
    for (let i = 0; i < cols; i++) a.data[j * cols + i] = svd.v.data[i * svd.v.cols + j]!;
  }
  if (clamp !== null) {
    const all = new Float64Array(b.data.length + a.data.length);
    all.set(b.data);
    all.set(a.data, b.data.length);
    const high = quantile(all, clamp);
    const low = -high;
    const limit = (value: number) => Math.min(Math.max(value, low), high);
    return { a: { ...a, data: a.data.map(limit) }, b: { ...b, data: b.data.map(limit) } };
  }
  return { a, b };
}

interface Source {
  a: Matrix;
  b: Matrix;
  scaling: number;
  weight: number;
}

/**
 * PEFT's `add_weighted_adapter`: a new LoRA adapter `adapterName` that combines `adapters` with
 * `weights`. The new adapter has r = lora_alpha = the new rank (scaling 1), targets the union of
 * the sources' targets, and is added inactive. See `AddWeightedAdapterOptions.compatibility`
 * for how the default differs from PEFT 0.11.1's numbers.
 */
export async function addWeightedAdapter(
  peftModel: PeftModel,
  adapters: readonly string[],
  weights: readonly number[],
  adapterName: string,
  options: AddWeightedAdapterOptions = {},
): Promise<void> {
  const compatible = (options.compatibility ?? 'exact') === 'peft-0.11.1';
  if (options.compatibility !== undefined && options.compatibility !== 'exact' && options.compatibility !== 'peft-0.11.1') {
    throw new InvalidConfigError(`compatibility is ${JSON.stringify(options.compatibility)}; expected "exact" or "peft-0.11.1"`, { field: 'compatibility' });
  }
  let combination: CombinationType = options.combinationType ?? 'svd';
  if (!COMBINATION_TYPES.includes(combination)) {
    throw new InvalidConfigError(`combination_type ${JSON.stringify(combination)} is invalid; expected one of ${COMBINATION_TYPES.join(', ')}`, { field: 'combination_type' });
  }
  if (peftModel.adapterNames.length > 0 && peftModel.peftType !== LORA_PEFT_TYPE) {
    throw new AdapterStateError(`addWeightedAdapter combines LoRA adapters; this model holds ${peftModel.peftType} adapters`);
  }
  if (adapters.length === 0) throw new InvalidConfigError('addWeightedAdapter needs at least one source adapter', { field: 'adapters' });
  if (weights.length !== adapters.length) {
    throw new InvalidConfigError(`addWeightedAdapter got ${adapters.length} adapters but ${weights.length} weights`, { field: 'weights' });
  }
  if (weights.some((weight) => !Number.isFinite(weight))) throw new InvalidConfigError(`weights must be finite numbers; got [${weights.join(', ')}]`, { field: 'weights' });
  for (const name of adapters) if (!peftModel.adapterNames.includes(name)) throw new NoSuchAdapterError({ adapterName: name, available: peftModel.adapterNames });
  if (peftModel.adapterNames.includes(adapterName)) {
    throw new AdapterStateError(`an adapter named "${adapterName}" already exists (PEFT silently returns here; peftjs refuses so the mistake is visible)`);
  }
  const configs = adapters.map((name) => peftModel.peftConfig[name] as LoraConfig);
  const dora = adapters.filter((_, index) => configs[index]!.useDora);
  if (dora.length > 0)
    throw new InvalidConfigError(`addWeightedAdapter does not support DoRA adapters (${dora.join(', ')}): their magnitudes cannot be combined`, { field: 'use_dora' });

  // PEFT: more than one source with a modules_to_save copy of the same module cannot be merged.
  const shared = namedLayers(peftModel.model).filter(
    (entry) => ModulesToSaveLayer.isModulesToSaveLayer(entry.layer) && adapters.filter((name) => (entry.layer as ModulesToSaveLayer).hasAdapter(name)).length > 1,
  );
  if (shared.length > 0) {
    throw new InvalidConfigError(
      `Cannot add weighted adapters if they target the same module with modules_to_save, but found ${shared.length} such instance(s): ${shared.map((entry) => entry.path).join(', ')}`,
      { field: 'modules_to_save' },
    );
  }

  if (adapters.length === 1) combination = 'linear';
  const density = options.density ?? null;
  if (NEEDS_DENSITY.includes(combination) && (density === null || !(density >= 0) || density > 1)) {
    throw new InvalidConfigError(`combination_type "${combination}" needs a density in [0, 1]; got ${JSON.stringify(options.density)}`, { field: 'density' });
  }
  const method = options.majoritySignMethod ?? 'total';
  if (method !== 'total' && method !== 'frequency')
    throw new InvalidConfigError(`majority_sign_method ${JSON.stringify(method)} is invalid; expected "total" or "frequency"`, { field: 'majority_sign_method' });
  const svdClamp = options.svdClamp ?? null;
  if (svdClamp !== null && !(svdClamp >= 0 && svdClamp <= 1)) throw new InvalidConfigError(`svd_clamp must be a quantile in [0, 1]; got ${svdClamp}`, { field: 'svd_clamp' });
  if (options.svdRank !== undefined && options.svdRank !== null && !(Number.isInteger(options.svdRank) && options.svdRank > 0)) {
    throw new InvalidConfigError(`svd_rank must be a positive integer; got ${options.svdRank}`, { field: 'svd_rank' });
  }

  const ranks = configs.map((config) => config.r);
  const exactLinear = combination === 'linear' && !compatible;
  const factorSpace = FACTOR_TYPES.includes(combination) && !exactLinear;
  if (factorSpace && new Set(ranks).size !== 1) {
    throw new InvalidConfigError(
      `All adapters must have the same r value when using combination_type linear, ties, dare_ties, dare_linear or magnitude_prune (got r = ${ranks.join(', ')})${
        compatible ? '' : '; the default (exact) "linear" and "cat" accept different ranks'
      }.`,
      { field: 'r' },
    );
  }

  // Each layer's sources, read once.
  const layers = loraLayers(peftModel).filter((layer) => adapters.some((name) => layer.hasAdapter(name)));
  const perLayer = new Map<LoraLayer, Source[]>();
  for (const layer of layers) {
    const sources: Source[] = [];
    for (const [index, name] of adapters.entries()) {
      if (!layer.hasAdapter(name)) continue;
      const factors = layer.factors(name);
      const [a, b] = await Promise.all([read2d(factors.a), read2d(factors.b)]);
      tf.dispose([factors.a, factors.b]);
      sources.push({ a, b, scaling: layer.adapterSettings(name).scaling, weight: weights[index]! });
    }
    perLayer.set(layer, sources);
  }

  let newRank: number;
  if (factorSpace) newRank = ranks[0]!;
  else if (combination === 'cat' || exactLinear) {
    // PEFT: Σ rᵢ (a rank_pattern can make one layer's stack larger; then that is the rank).
    const stackedRanks = [...perLayer.values()].map((sources) => sources.reduce((sum, source) => sum + source.a.rows, 0));
    newRank = Math.max(
      ranks.reduce((sum, rank) => sum + rank, 0),
      ...(compatible ? [] : stackedRanks),
    );
  } else newRank = options.svdRank ?? Math.max(...ranks);

  // The new config: PEFT's replace(config_0, r=new_rank, lora_alpha=new_rank, target_modules=…).
  const targetKinds = new Set(configs.map((config) => (typeof config.targetModules === 'string' ? 'string' : 'list')));
  if (targetKinds.size > 1) {
    throw new InvalidConfigError(
      'all adapter configs should follow the same target modules type. Combining adapters with `target_modules` type being a mix of list/set and string is not supported.',
      { field: 'target_modules' },
    );
  }
  const targetModules =
    typeof configs[0]!.targetModules === 'string'
      ? configs.map((config) => `(${config.targetModules as string})`).join('|')
      : [...new Set(configs.flatMap((config) => (config.targetModules as string[] | null) ?? []))];
  const first = configs[0]!;
  const savedInit = isPissaInit(first.initLoraWeights) ? true : first.initLoraWeights;
  const creation: LoraConfig = { ...first, r: newRank, loraAlpha: newRank, targetModules, rankPattern: {}, alphaPattern: {}, initLoraWeights: true, useDora: false };

  // Compute every layer's factors before the adapter exists, so a failure changes nothing.
  const results = new Map<LoraLayer, { a: Matrix; b: Matrix }>();
  const random = seededRandom(options.seed ?? 0);
  for (const [layer, sources] of perLayer) {
    const cols = sources[0]!.a.cols;
    const rows = sources[0]!.b.rows;
    let result: { a: Matrix; b: Matrix };
    const stacked = sources.reduce((sum, source) => sum + source.a.rows, 0);
    if ((combination === 'cat' || exactLinear) && stacked > newRank) {
      throw new InvalidConfigError(`layer "${layer.name}" stacks rank ${stacked} but the new adapter has r = ${newRank} (a rank_pattern makes its ranks differ from r)`, {
        field: 'rank_pattern',
      });
    }
    if (factorSpace && sources.some((source) => source.a.rows !== newRank)) {
      throw new InvalidConfigError(
        `layer "${layer.name}" has source ranks ${sources.map((source) => source.a.rows).join(', ')} but combination_type "${combination}" needs them all equal to r = ${newRank}`,
        {
          field: 'rank_pattern',
        },
      );
    }
    if (combination === 'cat') {
      // A = [wᵢ·sᵢ·Aᵢ] (rows), B = [Bᵢ] (columns): exactly Σ wᵢ·ΔWᵢ.
      result = {
        a: stackRows(
          sources.map((source) => scaled(source.a, source.weight * source.scaling)),
          newRank,
          cols,
        ),
        b: stackColumns(
          sources.map((source) => source.b),
          rows,
          newRank,
        ),
      };
    } else if (exactLinear) {
      // Σ cᵢ·Bᵢ·Aᵢ with cᵢ = wᵢ·sᵢ, split √|cᵢ| on each side (sign on A): exact, rank Σ rᵢ.
      result = {
        a: stackRows(
          sources.map((source) => {
            const c = source.weight * source.scaling;
            return scaled(source.a, Math.sign(c) * Math.sqrt(Math.abs(c)));
          }),
          newRank,
          cols,
        ),
        b: stackColumns(
          sources.map((source) => scaled(source.b, Math.sqrt(Math.abs(source.weight * source.scaling)))),
          rows,
          newRank,
        ),
      };
    } else if (factorSpace) {
      // PEFT combines A and B separately with weights √(wᵢ·sᵢ).
      const factorWeights = sources.map((source) => {
        const c = source.weight * source.scaling;
        if (c < 0) {
          throw new InvalidConfigError(
            `combination_type "${combination}" takes √(weight·scaling) of each adapter; weight ${source.weight} makes it negative. Use "cat", "svd" or the exact "linear".`,
            {
              field: 'weights',
            },
          );
        }
        return Math.sqrt(c);
      });
      const prune = { rescale: !compatible, random };
      const combine = (tensors: Float64Array[]): Float64Array => {
        switch (combination) {
          case 'linear':
            return taskArithmetic(tensors, factorWeights);
          case 'ties':
            return ties(tensors, factorWeights, density!, method);
          case 'dare_linear':
            return dareLinear(tensors, factorWeights, density!, prune);
          case 'dare_ties':
            return dareTies(tensors, factorWeights, density!, method, prune);
          default:
            return magnitudePrune(tensors, factorWeights, density!);
        }
      };
      const a = combine(sources.map((source) => source.a.data));
      const b = combine(sources.map((source) => source.b.data));
      result = { a: { rows: newRank, cols, data: a }, b: { rows, cols: newRank, data: b } };
    } else {
      // *svd: combine the deltas, then the best rank-k factors.
      const deltaWeights = sources.map((source) => (compatible ? source.weight * source.scaling : source.weight));
      let svd: Svd;
      if (combination === 'svd') {
        // Σ cᵢ·sᵢ·Bᵢ·Aᵢ = [c₁s₁B₁ | c₂s₂B₂ …]·[A₁; A₂ …]: an exact SVD from the stacked factors.
        const total = sources.reduce((sum, source) => sum + source.a.rows, 0);
        const stackedA = stackRows(
          sources.map((source) => source.a),
          total,
          cols,
        );
        const stackedB = stackColumns(
          sources.map((source, index) => scaled(source.b, deltaWeights[index]! * source.scaling)),
          rows,
          total,
        );
        svd = svdOfProduct(stackedB, stackedA);
      } else {
        const deltas = sources.map((source) => denseDelta(source.a, source.b, source.scaling).data);
        const prune = { rescale: !compatible, random };
        let combined: Float64Array;
        if (combination === 'ties_svd') combined = ties(deltas, deltaWeights, density!, method);
        else if (combination === 'dare_linear_svd') combined = dareLinear(deltas, deltaWeights, density!, prune);
        else if (combination === 'dare_ties_svd') combined = dareTies(deltas, deltaWeights, density!, method, prune);
        else combined = magnitudePrune(deltas, deltaWeights, density!);
        svd = truncatedSvd({ rows, cols, data: combined }, newRank, { seed: options.seed });
      }
      result = factorsFromSvd(svd, newRank, svdClamp);
    }
    results.set(layer, result);
  }

  peftModel.addAdapter(adapterName, creation);
  try {
    const config = peftModel.peftConfig[adapterName] as LoraConfig;
    config.initLoraWeights = savedInit;
    for (const layer of loraLayers(peftModel)) {
      if (!layer.hasAdapter(adapterName)) continue;
      const result = results.get(layer);
      if (!result) throw new AdapterStateError(`No matching LoRAs found for layer "${layer.name}": none of ${adapters.join(', ')} adapts it`);
      const a = tf.tensor2d(Float32Array.from(result.a.data), [result.a.rows, result.a.cols]);
      const b = tf.tensor2d(Float32Array.from(result.b.data), [result.b.rows, result.b.cols]);
      try {
        layer.setFactors(adapterName, { a, b });
      } finally {
        tf.dispose([a, b]);
      }
    }
  } catch (error) {
    peftModel.deleteAdapter(adapterName);
    throw error;
  }
}
