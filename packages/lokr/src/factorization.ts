/**
 * LyCORIS' factorization(dimension, factor) as PEFT 0.11.1 has it: `(factor, dimension / factor)`
 * when factor > 0 divides dimension; otherwise (factor -1 meaning dimension) walk m up through the
 * divisors of dimension from (1, dimension), stopping before m + n grows past 1 + dimension or m
 * passes factor, and return (min, max). 32 → (4, 8), 16 → (4, 4), 24 with factor 8 → (8, 3).
 */
export function factorization(dimension: number, factor = -1): [number, number] {
  if (factor > 0 && dimension % factor === 0) return [factor, dimension / factor];
  const limit = factor === -1 ? dimension : factor;
  let m = 1;
  let n = dimension;
  const length = m + n;
  while (m < n) {
    let nextM = m + 1;
    while (dimension % nextM !== 0) nextM++;
    const nextN = dimension / nextM;
    if (nextM + nextN > length || nextM > limit) break;
    m = nextM;
    n = nextN;
  }
  return m > n ? [n, m] : [m, n];
}
