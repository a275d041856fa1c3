import * as tf from '@tensorflow/tfjs-core';

/** Deterministic pseudo-random values in [-scale, scale) (a small LCG), so every backend sees the same inputs. */
export function seededValues(size: number, seed: number, scale = 1): Float32Array {
  const values = new Float32Array(size);
  let state = (seed * 2654435761) >>> 0 || 1;
  for (let index = 0; index < size; index++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    values[index] = ((state / 2 ** 32) * 2 - 1) * scale;
  }
  return values;
}

export function seededTensor(shape: number[], seed: number, scale = 1): tf.Tensor {
  return tf.tensor(
    seededValues(
      shape.reduce((product, dim) => product * dim, 1),
      seed,
      scale,
    ),
    shape,
  );
}

/**
 * Runs `compute` on `backend` (inputs made inside it live there), reads every result, and checks
 * that neither engine tensors nor the backend's buffers leak.
 */
export async function runOn(
  backend: 'wasm' | 'cpu',
  compute: () => tf.Tensor | tf.Tensor[],
): Promise<{ values: Float32Array[]; shapes: number[][]; leakedTensors: number; leakedBuffers: number }> {
  await tf.setBackend(backend);
  const tensorsBefore = tf.memory().numTensors;
  const buffersBefore = tf.backend().numDataIds();
  const results = tf.tidy(() => {
    const out = compute();
    return Array.isArray(out) ? out : [out];
  });
  const values = await Promise.all(results.map(async (result) => Float32Array.from(await result.data())));
  const shapes = results.map((result) => result.shape);
  tf.dispose(results);
  return {
    values,
    shapes,
    leakedTensors: tf.memory().numTensors - tensorsBefore,
    leakedBuffers: tf.backend().numDataIds() - buffersBefore,
  };
}

/**
 * The largest violation of |actual − expected| ≤ tolerance · max(scale, |expected|) (absolute for
 * small values, relative for large ones), as a ratio: ≤ 1 passes. `scale` defaults to 1; long
 * float32 reductions pass the output's largest magnitude (their rounding error grows with it).
 */
export function worstError(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = 1e-5, scale = 1): number {
  if (actual.length !== expected.length) {
    return Number.POSITIVE_INFINITY;
  }
  let worst = 0;
  for (let index = 0; index < actual.length; index++) {
    const error = Math.abs(actual[index] - expected[index]) / (tolerance * Math.max(scale, Math.abs(expected[index])));
    worst = Number.isNaN(error) ? Number.POSITIVE_INFINITY : Math.max(worst, error);
  }
  return worst;
}

/** The largest absolute value. */
export function maxAbs(values: ArrayLike<number>): number {
  let largest = 0;
  for (let index = 0; index < values.length; index++) {
    largest = Math.max(largest, Math.abs(values[index]));
  }
  return largest;
}
