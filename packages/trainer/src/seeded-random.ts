/** mulberry32: a small seeded generator of numbers in [0, 1). */
export function createSeededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A seed for stream `index` of `purpose` under the run's seed. Every random stream of a run is
 * derived from (seed, purpose, index), never carried from call to call, so a resumed run draws
 * exactly what the uninterrupted one drew.
 */
export function streamSeed(seed: number, purpose: number, index: number): number {
  let hash = 0x811c9dc5;
  for (const value of [seed, purpose, index]) {
    for (let shift = 0; shift < 32; shift += 8) {
      hash ^= (value >>> shift) & 0xff;
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    // Also the upper bits of values past 2^32 (micro-batch counters stay far below that).
    hash ^= Math.floor(value / 4294967296) & 0xff;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

export const STREAM_SHUFFLE = 1;
export const STREAM_DROPOUT = 2;

/**
 * Runs `run` with `Math.random` drawing from a seeded stream. TF.js draws unseeded random ops
 * (dropout masks, adapter initialisation) from `Math.random`; the original comes back after.
 */
export function withSeededMathRandom<T>(seed: number, run: () => T): T {
  const original = Math.random;
  Math.random = createSeededRandom(seed);
  try {
    const result = run();
    if (result instanceof Promise) return result.finally(() => (Math.random = original)) as T;
    Math.random = original;
    return result;
  } catch (error) {
    Math.random = original;
    throw error;
  }
}

/** Fisher–Yates with a seeded generator. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const result = [...items];
  for (let index = result.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    [result[index], result[other]] = [result[other]!, result[index]!];
  }
  return result;
}
