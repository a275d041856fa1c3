import * as tf from '@tensorflow/tfjs-core';
import { hasFusedKernel, NativeFusedKernel, runFusedKernel } from './native-fused-kernels';

/**
 * `silu(gate) · up` (Llama's SwiGLU core) as one op with its own gradient: the backward pass
 * keeps `gate` and `up` only and recomputes the sigmoid.
 *   d gate = dy · up · σ(g) · (1 + g · (1 − σ(g))),   d up = dy · g · σ(g)
 */
export function swigluOp(gate: tf.Tensor, up: tf.Tensor): tf.Tensor {
  // The native kernels take equal shapes only (no broadcasting).
  const native = gate.shape.length === up.shape.length && gate.shape.every((dim, axis) => dim === up.shape[axis]) && hasFusedKernel(NativeFusedKernel.swiglu, gate, up);
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [g, u, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([g, u]);
    const value = native ? (runFusedKernel(NativeFusedKernel.swiglu, { gate: g, up: u }) as tf.Tensor) : tf.mul(tf.mul(g, tf.sigmoid(g)), u);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [savedGate, savedUp] = saved as [tf.Tensor, tf.Tensor];
      if (native) return runFusedKernel(NativeFusedKernel.swigluGrad, { gate: savedGate, up: savedUp, dy }) as tf.Tensor[];
      const sigmoid = tf.sigmoid(savedGate);
      const silu = tf.mul(savedGate, sigmoid);
      const dGate = tf.mul(tf.mul(dy, savedUp), tf.mul(sigmoid, tf.add(1, tf.mul(savedGate, tf.sub(1, sigmoid)))));
      return [dGate, tf.mul(dy, silu)];
    };
    return { value, gradFunc };
  });
  return op(gate, up);
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/**
 * GPT-2's `gelu_new` / `gelu_pytorch_tanh`, `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))`, as one
 * op whose backward pass keeps only `x` (the op-by-op tape keeps five intermediates).
 */
export function geluTanhOp(x: tf.Tensor): tf.Tensor {
  if (hasFusedKernel(NativeFusedKernel.geluTanh, x)) return nativeGeluTanh(x);
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([input]);
    const inner = tf.mul(SQRT_2_OVER_PI, tf.add(input, tf.mul(0.044715, tf.mul(tf.square(input), input))));
    const value = tf.mul(tf.mul(input, 0.5), tf.add(1, tf.tanh(inner)));
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor => {
      const [savedInput] = saved as [tf.Tensor];
      const square = tf.square(savedInput);
      const t = tf.tanh(tf.mul(SQRT_2_OVER_PI, tf.add(savedInput, tf.mul(0.044715, tf.mul(square, savedInput)))));
      // d/dx = 0.5 (1 + t) + 0.5 x (1 − t²) √(2/π) (1 + 3·0.044715 x²)
      const derivative = tf.add(
        tf.mul(0.5, tf.add(1, t)),
        tf.mul(tf.mul(tf.mul(0.5, savedInput), tf.sub(1, tf.square(t))), tf.mul(SQRT_2_OVER_PI, tf.add(1, tf.mul(3 * 0.044715, square)))),
      );
      return tf.mul(dy, derivative);
    };
    return { value, gradFunc };
  });
  return op(x);
}

function nativeGeluTanh(x: tf.Tensor): tf.Tensor {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([input]);
    const value = runFusedKernel(NativeFusedKernel.geluTanh, { x: input }) as tf.Tensor;
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor => runFusedKernel(NativeFusedKernel.geluTanhGrad, { x: saved[0]!, dy }) as tf.Tensor;
    return { value, gradFunc };
  });
  return op(x);
}
