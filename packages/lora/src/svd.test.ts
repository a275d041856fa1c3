import { describe, expect, it } from 'vitest';
import { matrix, multiply, seededRandom, svdJacobi, svdLowRank, svdOfProduct, transpose, truncatedSvd, type Matrix, type Svd } from './svd';

function randomMatrix(rows: number, cols: number, seed: number): Matrix {
  const random = seededRandom(seed);
  return matrix(
    rows,
    cols,
    Array.from({ length: rows * cols }, () => random() * 2 - 1),
  );
}

function reconstruct({ u, s, v }: Svd): Matrix {
  const scaled = matrix(
    u.rows,
    u.cols,
    u.data.map((value, index) => value * s[index % u.cols]!),
  );
  return multiply(scaled, transpose(v));
}

function maxDifference(a: Matrix, b: Matrix): number {
  return a.data.reduce((worst, value, index) => Math.max(worst, Math.abs(value - b.data[index]!)), 0);
}

function orthonormalityError(a: Matrix, rank = a.cols): number {
  const gram = multiply(transpose(a), a);
  let worst = 0;
  for (let i = 0; i < rank; i++) for (let j = 0; j < rank; j++) worst = Math.max(worst, Math.abs(gram.data[i * gram.cols + j]! - (i === j ? 1 : 0)));
  return worst;
}

describe('svd', () => {
  it('decomposes tall, wide and square matrices exactly, with orthonormal factors and sorted values', () => {
    for (const [rows, cols] of [
      [20, 10],
      [7, 30],
      [16, 16],
      [1, 5],
    ] as const) {
      const a = randomMatrix(rows, cols, rows * 31 + cols);
      const svd = svdJacobi(a);
      expect(maxDifference(reconstruct(svd), a)).toBeLessThan(1e-12);
      expect(orthonormalityError(svd.u)).toBeLessThan(1e-12);
      expect(orthonormalityError(svd.v)).toBeLessThan(1e-12);
      for (let i = 1; i < svd.s.length; i++) expect(svd.s[i]!).toBeLessThanOrEqual(svd.s[i - 1]!);
    }
  });

  it('gives zero singular values for a rank-deficient matrix', () => {
    const low = multiply(randomMatrix(12, 3, 1), randomMatrix(3, 9, 2));
    const svd = svdJacobi(low);
    expect(maxDifference(reconstruct(svd), low)).toBeLessThan(1e-12);
    expect(Math.max(...svd.s.slice(3))).toBeLessThan(1e-12);
    expect(orthonormalityError(svd.u, 3)).toBeLessThan(1e-12);
  });

  it('matches known singular values', () => {
    const svd = svdJacobi(matrix(2, 2, [3, 0, 4, 5]));
    expect(svd.s[0]).toBeCloseTo(Math.sqrt(45), 12);
    expect(svd.s[1]).toBeCloseTo(Math.sqrt(5), 12);
  });

  it('decomposes a product B·A from its factors', () => {
    const b = randomMatrix(40, 6, 3);
    const a = randomMatrix(6, 25, 4);
    const product = multiply(b, a);
    const svd = svdOfProduct(b, a);
    expect(svd.s.length).toBe(6);
    expect(maxDifference(reconstruct(svd), product)).toBeLessThan(1e-12);
    const dense = svdJacobi(product);
    for (let i = 0; i < 6; i++) expect(svd.s[i]).toBeCloseTo(dense.s[i]!, 10);
  });

  it('approximates the leading triplets of a large matrix with randomized iteration', () => {
    // A matrix with a clear spectral gap: rank-5 signal plus small noise.
    const signal = multiply(randomMatrix(300, 5, 5), randomMatrix(5, 200, 6));
    const noise = randomMatrix(300, 200, 7);
    const a = matrix(
      300,
      200,
      signal.data.map((value, index) => value + 1e-3 * noise.data[index]!),
    );
    const exact = svdJacobi(a);
    const approximate = svdLowRank(a, 8, { niter: 4 });
    for (let i = 0; i < 5; i++) expect(Math.abs(approximate.s[i]! - exact.s[i]!) / exact.s[i]!).toBeLessThan(1e-6);
    const truncated = truncatedSvd(a, 5, { exactLimit: 1 });
    for (let i = 0; i < 5; i++) expect(Math.abs(truncated.s[i]! - exact.s[i]!) / exact.s[i]!).toBeLessThan(1e-6);
    expect(truncated.u.cols).toBe(5);
  });
});
