import * as tf from '@tensorflow/tfjs-core';

/** x·W over the last axis of x, for inputs of any rank >= 2. */
export function matMulLastAxis(inputs: tf.Tensor, kernel: tf.Tensor): tf.Tensor {
  if (inputs.rank === 2) return tf.matMul(inputs as tf.Tensor2D, kernel as tf.Tensor2D);
  const last = inputs.shape[inputs.rank - 1]!;
  const product = tf.matMul(tf.reshape(inputs, [-1, last]) as tf.Tensor2D, kernel as tf.Tensor2D);
  return tf.reshape(product, [...inputs.shape.slice(0, -1), kernel.shape[kernel.rank - 1]!]);
}

/**
 * LyCORIS' Tucker rebuild of a conv weight, `einsum('i j k l, i p, j r -> p r k l', t, outFactor, inFactor)`:
 * t `[r, r, kh, kw]`, outFactor `[r, out]`, inFactor `[r, in]` → `[out, in, kh, kw]`.
 */
export function tuckerRebuild(core: tf.Tensor, outFactor: tf.Tensor, inFactor: tf.Tensor): tf.Tensor4D {
  return tf.tidy(() => {
    const [r1, r2, kh, kw] = core.shape as number[];
    const inDim = inFactor.shape[1]!;
    const outDim = outFactor.shape[1]!;
    // Contract j with the input factor: [i, k, l, j] · [j, in] → [i, k, l, in].
    const byInput = tf.matMul(tf.reshape(tf.transpose(core, [0, 2, 3, 1]), [r1! * kh! * kw!, r2!]) as tf.Tensor2D, inFactor as tf.Tensor2D);
    // Contract i with the output factor: [out, i] · [i, k·l·in] → [out, k, l, in].
    const both = tf.matMul(tf.transpose(outFactor) as tf.Tensor2D, tf.reshape(byInput, [r1!, kh! * kw! * inDim]) as tf.Tensor2D);
    return tf.transpose(tf.reshape(both, [outDim, kh!, kw!, inDim]), [0, 3, 1, 2]) as tf.Tensor4D;
  });
}

/**
 * torch.kron of a 2-D `w1` `[a, c]` with `w2` `[b, d, ...rest]` (w1 padded with unit dims, as
 * LyCORIS' make_kron does): `[a·b, c·d, ...rest]`.
 */
export function kron(w1: tf.Tensor, w2: tf.Tensor): tf.Tensor {
  const [a, c] = w1.shape as number[];
  const [b, d, ...rest] = w2.shape as number[];
  const unit = rest.map(() => 1);
  return tf.tidy(() => {
    const left = tf.reshape(w1, [a!, 1, c!, 1, ...unit]);
    const right = tf.reshape(w2, [1, b!, 1, d!, ...rest]);
    return tf.reshape(tf.mul(left, right), [a! * b!, c! * d!, ...rest]);
  });
}

/** torch's kaiming_uniform_(tensor, a=√5): U(±1/√fan-in), fan-in = shape[1]·(receptive field). */
export function kaimingUniform(shape: readonly number[]): tf.Tensor {
  const fanIn = shape.slice(1).reduce((product, size) => product * size, 1);
  const bound = 1 / Math.sqrt(fanIn);
  return tf.randomUniform([...shape], -bound, bound, 'float32');
}
