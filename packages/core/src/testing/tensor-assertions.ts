import * as tf from '@tensorflow/tfjs-core';

/** Element-wise |actual - expected| <= atol + rtol * |expected|; returns the worst violation (0 when it passes). */
export async function maxCloseViolation(actual: tf.Tensor, expected: tf.Tensor, atol = 1e-5, rtol = 1e-5): Promise<number> {
  if (actual.shape.join(',') !== expected.shape.join(',')) {
    throw new Error(`shape mismatch: [${actual.shape.join(', ')}] vs [${expected.shape.join(', ')}]`);
  }
  const [a, b] = await Promise.all([actual.data(), expected.data()]);
  let worst = 0;
  for (let index = 0; index < a.length; index++) {
    const difference = Math.abs(a[index]! - b[index]!);
    if (!(difference <= atol + rtol * Math.abs(b[index]!))) worst = Math.max(worst, Number.isNaN(difference) ? Infinity : difference);
  }
  return worst;
}

/** Throws with a readable message unless the tensors are close (see maxCloseViolation). */
export async function assertClose(actual: tf.Tensor, expected: tf.Tensor, options: { atol?: number; rtol?: number; message?: string } = {}): Promise<void> {
  const worst = await maxCloseViolation(actual, expected, options.atol ?? 1e-5, options.rtol ?? 1e-5);
  if (worst > 0) {
    const [a, b] = await Promise.all([actual.data(), expected.data()]);
    throw new Error(
      `${options.message ?? 'tensors differ'}: max |diff| beyond tolerance ${worst} (atol ${options.atol ?? 1e-5}, rtol ${options.rtol ?? 1e-5}); ` +
        `actual starts [${[...a.slice(0, 4)].map((value) => value.toFixed(6)).join(', ')}], expected [${[...b.slice(0, 4)].map((value) => value.toFixed(6)).join(', ')}]`,
    );
  }
}

/** The largest absolute difference between two same-shaped tensors. */
export async function maxAbsDifference(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const difference = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))));
  const [value] = await difference.data();
  difference.dispose();
  return value!;
}
