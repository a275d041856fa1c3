import { InvalidConfigError, warn } from '@peftjs/core';

/**
 * PEFT's `utils/merge_utils.py` on flat Float64Arrays (task arithmetic, TIES, DARE, magnitude
 * pruning). Every function takes the task tensors and one weight per task and returns a new array.
 */

export type MajoritySignMethod = 'total' | 'frequency';

export interface PruneOptions {
  /** DARE: divide the kept entries by the density (PEFT 0.11.1 computes this and throws it away). */
  rescale: boolean;
  /** Uniform [0, 1) numbers for DARE's Bernoulli mask. */
  random: () => number;
}

function checkDensity(density: number): boolean {
  if (!(density >= 0)) throw new InvalidConfigError(`density should be a number in [0, 1]; got ${density}`, { field: 'density' });
  if (density >= 1) {
    warn(`The density ${density} is greater than or equal to 1, no pruning will be performed.`);
    return false;
  }
  return true;
}

/** Keeps the `int(density·n)` entries of largest magnitude (ties: the first ones), zeroing the rest. */
export function pruneByMagnitude(tensor: Float64Array, density: number): Float64Array {
  if (!checkDensity(density)) return Float64Array.from(tensor);
  const k = Math.floor(density * tensor.length);
  const order = Array.from({ length: tensor.length }, (_, index) => index).sort((a, b) => Math.abs(tensor[b]!) - Math.abs(tensor[a]!) || a - b);
  const result = new Float64Array(tensor.length);
  for (let index = 0; index < k; index++) result[order[index]!] = tensor[order[index]!]!;
  return result;
}

/** DARE's random pruning: keeps each entry with probability `density` (then optionally divides by it). */
export function pruneRandomly(tensor: Float64Array, density: number, options: PruneOptions): Float64Array {
  if (!checkDensity(density)) return Float64Array.from(tensor);
  const scale = options.rescale && density > 0 ? 1 / density : 1;
  return tensor.map((value) => (options.random() < density ? value * scale : 0));
}

function weightedSum(tensors: readonly Float64Array[], weights: readonly number[]): Float64Array {
  const result = new Float64Array(tensors[0]!.length);
  tensors.forEach((tensor, task) => {
    const weight = weights[task]!;
    for (let index = 0; index < result.length; index++) result[index] += weight * tensor[index]!;
  });
  return result;
}

/** TIES' elected sign per entry: of the sum (`total`) or of the sign count (`frequency`); 0 counts as +. */
function majoritySigns(tensors: readonly Float64Array[], method: MajoritySignMethod): Int8Array {
  const length = tensors[0]!.length;
  const signs = new Int8Array(length);
  for (let index = 0; index < length; index++) {
    let magnitude = 0;
    for (const tensor of tensors) magnitude += method === 'total' ? tensor[index]! : Math.sign(tensor[index]!);
    signs[index] = magnitude >= 0 ? 1 : -1;
  }
  return signs;
}

/** Mean over the tasks whose entry agrees with the elected sign (zeros never agree). */
function disjointMerge(tensors: readonly Float64Array[], weights: readonly number[], signs: Int8Array): Float64Array {
  const result = new Float64Array(signs.length);
  for (let index = 0; index < signs.length; index++) {
    let sum = 0;
    let count = 0;
    tensors.forEach((tensor, task) => {
      if (Math.sign(tensor[index]!) === signs[index]) {
        sum += weights[task]! * tensor[index]!;
        count++;
      }
    });
    result[index] = sum / Math.max(count, 1);
  }
  return result;
}

export function taskArithmetic(tensors: readonly Float64Array[], weights: readonly number[]): Float64Array {
  return weightedSum(tensors, weights);
}

export function magnitudePrune(tensors: readonly Float64Array[], weights: readonly number[], density: number): Float64Array {
  return weightedSum(
    tensors.map((tensor) => pruneByMagnitude(tensor, density)),
    weights,
  );
}

export function ties(tensors: readonly Float64Array[], weights: readonly number[], density: number, method: MajoritySignMethod): Float64Array {
  const pruned = tensors.map((tensor) => pruneByMagnitude(tensor, density));
  return disjointMerge(pruned, weights, majoritySigns(pruned, method));
}

export function dareLinear(tensors: readonly Float64Array[], weights: readonly number[], density: number, options: PruneOptions): Float64Array {
  return weightedSum(
    tensors.map((tensor) => pruneRandomly(tensor, density, options)),
    weights,
  );
}

export function dareTies(tensors: readonly Float64Array[], weights: readonly number[], density: number, method: MajoritySignMethod, options: PruneOptions): Float64Array {
  const pruned = tensors.map((tensor) => pruneRandomly(tensor, density, options));
  return disjointMerge(pruned, weights, majoritySigns(pruned, method));
}

/** torch.quantile (linear interpolation between the closest ranks). */
export function quantile(values: Float64Array, q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const position = q * (sorted.length - 1);
  const lower = Math.floor(position);
  const upper = Math.min(lower + 1, sorted.length - 1);
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * (position - lower);
}
