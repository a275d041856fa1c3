import * as tf from '@tensorflow/tfjs-core';

/**
 * Inverses of a batch of square matrices `[b, n, n]` by Gauss-Jordan elimination, built from
 * differentiable tfjs ops (tfjs has no matrix inverse). Without `pivot` no rows are swapped:
 * exact for matrices whose symmetric part is positive definite, such as `I + S` with S
 * skew-symmetric (the Cayley transform), and then the result has a gradient. With `pivot` the
 * largest remaining entry of each column is moved up first (for merged-weight inverses).
 */
export function batchedInverse(matrices: tf.Tensor3D, options: { pivot?: boolean } = {}): tf.Tensor3D {
  return tf.tidy(() => {
    const [batch, n] = matrices.shape;
    const eye = tf.tile(tf.expandDims(tf.eye(n), 0), [batch, 1, 1]);
    let augmented = tf.concat([matrices, eye], 2) as tf.Tensor3D;
    const rowIndex = tf.range(0, n, 1, 'int32');
    // The unit column of each step, made once (each op is a dispatch, and there are n steps).
    const units = n === 1 ? [tf.ones([1, 1, 1])] : tf.split(tf.reshape(tf.eye(n), [n, 1, n, 1]), n, 0).map((unit) => tf.reshape(unit, [1, n, 1]));
    for (let k = 0; k < n; k++) {
      if (options.pivot) {
        const column = tf.reshape(tf.slice(augmented, [0, 0, k], [batch, n, 1]), [batch, n]);
        const candidates = tf.where(tf.less(rowIndex, k), tf.fill([batch, n], -1), tf.abs(column));
        const pivotRow = tf.cast(tf.argMax(candidates, 1), 'int32');
        const rows = tf.tile(tf.expandDims(rowIndex, 0), [batch, 1]);
        const pivotColumn = tf.expandDims(pivotRow, 1);
        const permutation = tf.where(tf.equal(rows, k), tf.tile(pivotColumn, [1, n]), tf.where(tf.equal(rows, pivotColumn), tf.fill([batch, n], k, 'int32'), rows));
        augmented = tf.gather(augmented, permutation, 1, 1) as tf.Tensor3D;
      }
      const row = tf.slice(augmented, [0, k, 0], [batch, 1, 2 * n]);
      const normalized = tf.div(row, tf.slice(row, [0, 0, k], [batch, 1, 1]));
      const column = tf.slice(augmented, [0, 0, k], [batch, n, 1]);
      const unit = units[k]!;
      // Row k becomes the normalised pivot row; every other row loses its multiple of it.
      augmented = tf.sub(augmented, tf.mul(tf.sub(column, unit), normalized)) as tf.Tensor3D;
    }
    return tf.slice(augmented, [0, 0, n], [batch, n, n]) as tf.Tensor3D;
  });
}

const inverseWithGradient = tf.customGrad(((matrices: tf.Tensor3D, save: tf.GradSaveFunc) => {
  const inverse = batchedInverse(matrices);
  save([inverse]);
  return {
    value: inverse,
    // d(A⁻¹) = −A⁻¹·dA·A⁻¹, so the gradient is −A⁻ᵀ·dY·A⁻ᵀ: two products instead of replaying n elimination steps.
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.neg(tf.matMul(tf.matMul(saved[0] as tf.Tensor3D, dy as tf.Tensor3D, true, false), saved[0] as tf.Tensor3D, false, true)),
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (matrices: tf.Tensor3D) => tf.Tensor3D;

/** Inverses of a batch without pivoting (see batchedInverse), with the closed-form gradient of the inverse. */
export function differentiableInverse(matrices: tf.Tensor3D): tf.Tensor3D {
  return inverseWithGradient(matrices);
}

/** PEFT's Cayley transform of a batch `[b, n, n]`: S = (A − Aᵀ)/2, Q = (I − S)·(I + S)⁻¹ (orthogonal). */
export function cayleyBatch(data: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => {
    const [batch, n] = data.shape;
    const skew = tf.mul(tf.sub(data, tf.transpose(data, [0, 2, 1])), 0.5);
    const eye = tf.tile(tf.expandDims(tf.eye(n), 0), [batch, 1, 1]);
    return tf.matMul(tf.sub(eye, skew) as tf.Tensor3D, differentiableInverse(tf.add(eye, skew) as tf.Tensor3D)) as tf.Tensor3D;
  });
}

/** torch.block_diag of a batch of equal blocks `[b, n, n]`: a `[b·n, b·n]` matrix. */
export function blockDiagonal(blocks: tf.Tensor3D): tf.Tensor2D {
  return tf.tidy(() => {
    const [count, rows, columns] = blocks.shape;
    const mask = tf.reshape(tf.eye(count), [count, 1, count, 1]);
    return tf.reshape(tf.mul(tf.reshape(blocks, [count, rows, 1, columns]), mask), [count * rows, count * columns]) as tf.Tensor2D;
  });
}
