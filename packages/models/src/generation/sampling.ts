import { createSeededRandom } from '@peftjs/core';

/** A seeded PRNG (core's mulberry32): uniform floats in [0, 1). */
export const createRandom: (seed: number) => () => number = createSeededRandom;

export interface SamplingOptions {
  temperature: number;
  /** Keep the k most likely tokens; 0 keeps all. */
  topK: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p; 1 keeps all. */
  topP: number;
}

/**
 * Samples one token from one row of logits with transformers' warpers in its order:
 * temperature, then top-k, then top-p (keeping at least one token).
 */
export function sampleToken(logits: Float32Array | number[], options: SamplingOptions, random: () => number): number {
  const size = logits.length;
  const scores = new Float64Array(size);
  for (let index = 0; index < size; index++) scores[index] = logits[index]! / options.temperature;
  const order = Array.from({ length: size }, (_, index) => index).sort((a, b) => scores[b]! - scores[a]! || a - b);
  let kept = options.topK > 0 ? Math.min(options.topK, size) : size;
  // top-k keeps ties with the k-th score, as transformers' `scores < topk(...)[-1]` does.
  if (kept < size) {
    const threshold = scores[order[kept - 1]!]!;
    while (kept < size && scores[order[kept]!] === threshold) kept++;
  }
  const max = scores[order[0]!]!;
  const weights = new Float64Array(kept);
  let total = 0;
  for (let rank = 0; rank < kept; rank++) {
    weights[rank] = Math.exp(scores[order[rank]!]! - max);
    total += weights[rank]!;
  }
  if (options.topP < 1) {
    // transformers removes tokens whose cumulative probability (ascending) is <= 1 - top_p.
    let ascending = 0;
    let cut = kept;
    for (let rank = kept - 1; rank >= 1; rank--) {
      ascending += weights[rank]! / total;
      if (ascending <= 1 - options.topP) cut = rank;
      else break;
    }
    for (let rank = cut; rank < kept; rank++) total -= weights[rank]!;
    kept = cut;
  }
  let draw = random() * total;
  for (let rank = 0; rank < kept; rank++) {
    draw -= weights[rank]!;
    if (draw < 0) return order[rank]!;
  }
  return order[kept - 1]!;
}
