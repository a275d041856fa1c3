/** mulberry32: a small, fast, seeded PRNG returning numbers in [0, 1). The project's one seeded generator. */
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
 * Runs `fn` with `Math.random` replaced by a seeded generator, restored when `fn` returns (or its
 * promise settles). TF.js draws unseeded random ops (adapter initialisation, dropout masks) from
 * `Math.random`, so this makes a run repeatable: the same seed, data and backend give the same result.
 */
export function withSeededMathRandom<T>(seed: number, fn: () => T): T {
  const original = Math.random;
  Math.random = createSeededRandom(seed);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    Math.random = original;
    throw error;
  }
  if (result instanceof Promise) {
    return result.finally(() => {
      Math.random = original;
    }) as T;
  }
  Math.random = original;
  return result;
}

/** Fisher–Yates with a seeded generator; returns a shuffled copy. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const result = [...items];
  for (let index = result.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    [result[index], result[other]] = [result[other]!, result[index]!];
  }
  return result;
}
