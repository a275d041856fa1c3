/**
 * A small singular value decomposition for LoRA (tfjs has none): one-sided Jacobi in float64 for
 * dense matrices, an exact thin SVD of a product B·A from its factors, and torch's
 * `svd_lowrank`-style randomized subspace iteration for large matrices. Matrices are row-major
 * Float64Arrays; everything here is plain JS on values already read from tensors.
 */

import { createSeededRandom } from '@peftjs/core';

/** A row-major matrix. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;
}

/** A thin SVD: M ≈ U · diag(S) · Vᵀ, with U `[rows, k]`, V `[cols, k]`, S descending. */
export interface Svd {
  u: Matrix;
  s: Float64Array;
  v: Matrix;
}

export function matrix(rows: number, cols: number, data?: ArrayLike<number>): Matrix {
  const values = new Float64Array(rows * cols);
  if (data) {
    if (data.length !== rows * cols) throw new Error(`matrix: ${data.length} values for a ${rows}×${cols} matrix`);
    values.set(data);
  }
  return { rows, cols, data: values };
}

export function transpose(a: Matrix): Matrix {
  const out = new Float64Array(a.rows * a.cols);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) out[j * a.rows + i] = a.data[i * a.cols + j]!;
  return { rows: a.cols, cols: a.rows, data: out };
}

export function multiply(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.rows) throw new Error(`multiply: ${a.rows}×${a.cols} by ${b.rows}×${b.cols}`);
  const out = new Float64Array(a.rows * b.cols);
  for (let i = 0; i < a.rows; i++) {
    const row = i * b.cols;
    for (let k = 0; k < a.cols; k++) {
      const value = a.data[i * a.cols + k]!;
      if (value === 0) continue;
      const offset = k * b.cols;
      for (let j = 0; j < b.cols; j++) out[row + j] += value * b.data[offset + j]!;
    }
  }
  return { rows: a.rows, cols: b.cols, data: out };
}

/** Columns `[0, k)` of a matrix (zero-padded when it has fewer). */
export function leadingColumns(a: Matrix, k: number): Matrix {
  const out = new Float64Array(a.rows * k);
  const kept = Math.min(k, a.cols);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < kept; j++) out[i * k + j] = a.data[i * a.cols + j]!;
  return { rows: a.rows, cols: k, data: out };
}

/**
 * One-sided (Hestenes) Jacobi SVD of a dense matrix: exact to float64 rounding, O(rows·cols²)
 * per sweep (it works on the longer side). Rank-deficient inputs give zero singular values
 * with zero singular vectors.
 */
export function svdJacobi(input: Matrix, options: { maxSweeps?: number } = {}): Svd {
  if (input.rows < input.cols) {
    const { u, s, v } = svdJacobi(transpose(input), options);
    return { u: v, s, v: u };
  }
  const m = input.rows;
  const n = input.cols;
  // Column-major copies: column j of the working matrix at [j·m, (j+1)·m).
  const work = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) work[j * m + i] = input.data[i * n + j]!;
  const vectors = new Float64Array(n * n);
  for (let j = 0; j < n; j++) vectors[j * n + j] = 1;
  const norms = new Float64Array(n);
  const eps = 1e-15;
  const maxSweeps = options.maxSweeps ?? 80;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let rotated = false;
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let i = 0; i < m; i++) sum += work[j * m + i]! ** 2;
      norms[j] = sum;
    }
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const alpha = norms[p]!;
        const beta = norms[q]!;
        if (alpha === 0 || beta === 0) continue;
        let gamma = 0;
        const cp = p * m;
        const cq = q * m;
        for (let i = 0; i < m; i++) gamma += work[cp + i]! * work[cq + i]!;
        if (Math.abs(gamma) <= eps * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let i = 0; i < m; i++) {
          const up = work[cp + i]!;
          const uq = work[cq + i]!;
          work[cp + i] = c * up - s * uq;
          work[cq + i] = s * up + c * uq;
        }
        const vp = p * n;
        const vq = q * n;
        for (let i = 0; i < n; i++) {
          const a = vectors[vp + i]!;
          const b = vectors[vq + i]!;
          vectors[vp + i] = c * a - s * b;
          vectors[vq + i] = s * a + c * b;
        }
        norms[p] = alpha - t * gamma;
        norms[q] = beta + t * gamma;
      }
    }
    if (!rotated) break;
  }
  const sigma = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let sum = 0;
    for (let i = 0; i < m; i++) sum += work[j * m + i]! ** 2;
    sigma[j] = Math.sqrt(sum);
  }
  const order = Array.from({ length: n }, (_, index) => index).sort((a, b) => sigma[b]! - sigma[a]!);
  const largest = sigma[order[0]!] ?? 0;
  const u = new Float64Array(m * n);
  const v = new Float64Array(n * n);
  const s = new Float64Array(n);
  order.forEach((source, target) => {
    const value = sigma[source]!;
    // Singular values at rounding level of the largest are zero: their directions are noise.
    const zero = value <= largest * 1e-14 || value === 0;
    s[target] = zero ? 0 : value;
    for (let i = 0; i < m; i++) u[i * n + target] = zero ? 0 : work[source * m + i]! / value;
    for (let i = 0; i < n; i++) v[i * n + target] = zero ? 0 : vectors[source * n + i]!;
  });
  return { u: { rows: m, cols: n, data: u }, s, v: { rows: n, cols: n, data: v } };
}

/**
 * The exact thin SVD of B·A (B `[m, r]`, A `[r, n]`) without forming the m×n product:
 * B = U_b·S_b·V_bᵀ, then the small `[r, n]` matrix S_b·V_bᵀ·A is decomposed. Rank ≤ r.
 */
export function svdOfProduct(b: Matrix, a: Matrix): Svd {
  if (b.cols !== a.rows) throw new Error(`svdOfProduct: B is ${b.rows}×${b.cols} and A is ${a.rows}×${a.cols}`);
  const left = svdJacobi(b);
  const k = left.s.length;
  // core = S_b · V_bᵀ · A   ([k, n])
  const scaledVt = new Float64Array(k * b.cols);
  for (let i = 0; i < k; i++) for (let j = 0; j < b.cols; j++) scaledVt[i * b.cols + j] = left.s[i]! * left.v.data[j * k + i]!;
  const core = multiply({ rows: k, cols: b.cols, data: scaledVt }, a);
  const inner = svdJacobi(core);
  return { u: multiply(left.u, inner.u), s: inner.s, v: inner.v };
}

/** A seeded uniform generator in [0, 1): core's mulberry32. */
export const seededRandom: (seed: number) => () => number = createSeededRandom;

function gaussian(random: () => number): number {
  const u = Math.max(random(), Number.MIN_VALUE);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** An orthonormal basis of the column space (modified Gram–Schmidt, twice; dependent columns become zero). */
export function orthonormalColumns(a: Matrix): Matrix {
  const { rows, cols } = a;
  const q = new Float64Array(a.data);
  const scale = Math.sqrt(q.reduce((sum, value) => sum + value * value, 0)) || 1;
  for (let j = 0; j < cols; j++) {
    for (let pass = 0; pass < 2; pass++) {
      for (let k = 0; k < j; k++) {
        let dot = 0;
        for (let i = 0; i < rows; i++) dot += q[i * cols + k]! * q[i * cols + j]!;
        for (let i = 0; i < rows; i++) q[i * cols + j] -= dot * q[i * cols + k]!;
      }
    }
    let norm = 0;
    for (let i = 0; i < rows; i++) norm += q[i * cols + j]! ** 2;
    norm = Math.sqrt(norm);
    for (let i = 0; i < rows; i++) q[i * cols + j] = norm > 1e-12 * scale ? q[i * cols + j]! / norm : 0;
  }
  return { rows, cols, data: q };
}

/**
 * torch.svd_lowrank: a rank-`q` approximate SVD by randomized subspace iteration with `niter`
 * power iterations (Halko et al.), then an exact SVD of the small projected matrix.
 */
export function svdLowRank(a: Matrix, q: number, options: { niter?: number; seed?: number } = {}): Svd {
  const niter = options.niter ?? 2;
  const random = seededRandom(options.seed ?? 0x5eed);
  const width = Math.min(q, a.rows, a.cols);
  const omega = matrix(
    a.cols,
    width,
    Array.from({ length: a.cols * width }, () => gaussian(random)),
  );
  const at = transpose(a);
  let basis = orthonormalColumns(multiply(a, omega));
  for (let iteration = 0; iteration < niter; iteration++) {
    const back = orthonormalColumns(multiply(at, basis));
    basis = orthonormalColumns(multiply(a, back));
  }
  const projected = multiply(transpose(basis), a); // [width, cols]
  const small = svdJacobi(projected);
  return { u: multiply(basis, small.u), s: small.s, v: small.v };
}

/**
 * The leading `k` singular triplets of a dense matrix: exact (Jacobi) when that costs at most
 * `exactLimit` multiply-adds per sweep, otherwise randomized with oversampling and power iterations.
 */
export function truncatedSvd(a: Matrix, k: number, options: { exactLimit?: number; seed?: number } = {}): Svd {
  const small = Math.min(a.rows, a.cols);
  const large = Math.max(a.rows, a.cols);
  const exact = small * small * large <= (options.exactLimit ?? 2e8) || k >= small / 2;
  const full = exact ? svdJacobi(a) : svdLowRank(a, Math.min(small, k + 10), { niter: 8, seed: options.seed });
  return { u: leadingColumns(full.u, k), s: Float64Array.from({ length: k }, (_, index) => full.s[index] ?? 0), v: leadingColumns(full.v, k) };
}
