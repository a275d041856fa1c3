import { createSeededRandom, shuffled, withSeededMathRandom } from '@peftjs/core';

// The seeded generator, Math.random seeding and the shuffle are core's one copy.
export { createSeededRandom, shuffled, withSeededMathRandom };

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
