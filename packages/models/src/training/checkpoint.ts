import * as tf from '@tensorflow/tfjs-core';
import { currentForwardContext, withForwardContext } from '@peftjs/core';

interface EngineWithTape {
  state: { activeTape: unknown; gradientDepth: number };
  gradients(f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor, allowNoGradients?: boolean): { value: tf.Tensor; grads: Array<tf.Tensor | undefined> };
}

/**
 * `forward(inputs)` as one op whose activations are not kept: the forward pass runs without
 * recording, and the backward pass runs it again with recording on, then backpropagates through
 * that copy. Only `inputs` are held between the passes. `variables` are the trainable tensors
 * read inside `forward`; they receive their gradients through this op.
 *
 * The recomputation gives the same result as the first run: random ops inside (dropout) seed
 * themselves from `Math.random`, so the numbers it returned during the first run are replayed
 * (PyTorch's RNG-state preservation, for tfjs' unseeded random ops).
 */
export function checkpointed(forward: (inputs: readonly tf.Tensor[]) => tf.Tensor, inputs: readonly tf.Tensor[], variables: readonly tf.Variable[]): tf.Tensor {
  const inputCount = inputs.length;
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args.pop() as tf.GradSaveFunc;
    const tensors = args as tf.Tensor[];
    // Kept for the recomputation: the inputs (a tidy would free them otherwise); variables live on.
    save(tensors.slice(0, inputCount));
    // Per-row task ids and the like: the recomputation runs in the forward pass's context.
    const context = currentForwardContext();
    const draws: number[] = [];
    const value = withRandom(
      (next) => () => {
        const drawn = next();
        draws.push(drawn);
        return drawn;
      },
      () => forward(tensors.slice(0, inputCount)),
    );
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const engine = tf.engine() as unknown as EngineWithTape;
      const floatInputs = saved.map((tensor) => tensor.dtype === 'float32');
      const sources: tf.Tensor[] = [...saved.filter((_, index) => floatInputs[index]), ...variables];
      // A nested gradient computation resets the engine's tape when it ends; the outer one still
      // needs its own to free the tensors it saved.
      const outerTape = engine.state.activeTape;
      let grads: Array<tf.Tensor | undefined>;
      try {
        let replayed = 0;
        const result = withRandom(
          (next) => () => (replayed < draws.length ? draws[replayed++]! : next()),
          () => engine.gradients(() => (context ? withForwardContext(context, () => forward(saved)) : forward(saved)), sources, dy, true),
        );
        result.value.dispose();
        grads = result.grads;
      } finally {
        engine.state.activeTape = outerTape;
      }
      let next = 0;
      const inputGrads = saved.map((tensor, index) => (floatInputs[index] ? grads[next++] : undefined) ?? tf.zerosLike(tensor));
      const variableGrads = variables.map((variable) => grads[next++] ?? tf.zerosLike(variable));
      return [...inputGrads, ...variableGrads];
    };
    return { value, gradFunc };
  });
  return op(...inputs, ...variables);
}

/** Runs `run` with `Math.random` replaced by `wrap(original)`. */
function withRandom<T>(wrap: (next: () => number) => () => number, run: () => T): T {
  const original = Math.random;
  Math.random = wrap(original);
  try {
    return run();
  } finally {
    Math.random = original;
  }
}
