import type { GradConfig, Tensor } from '@tensorflow/tfjs-core';
import { getGradient, registerGradient, reshape, sum, Tile, unregisterGradient } from '@tensorflow/tfjs-core';

import type { WasmFixUnit } from './wasm-fix-unit';
import { WasmFix } from './wasm-fix-names';

/**
 * The `Tile` gradient as one reshape and one sum per tiled axis: `dy` viewed as
 * `[..., reps, size, ...]` summed over `reps`. tfjs-core's gradient adds one slice of `dy` per
 * repetition (a Slice and an Add for every copy), which for a `[batch·seq, hidden]` tile is
 * thousands of ops and grows with the batch.
 */
export const tileGradConfig: GradConfig = {
  kernelName: Tile,
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved as [Tensor];
    const { reps } = attrs as unknown as { reps: number[] };
    return {
      x: () => {
        let gradient = dy as Tensor;
        for (let axis = 0; axis < x.rank; axis++) {
          const repeats = reps[axis]!;
          if (repeats === 1) continue;
          const shape = gradient.shape;
          const viewed = reshape(gradient, [...shape.slice(0, axis), repeats, x.shape[axis]!, ...shape.slice(axis + 1)]);
          gradient = sum(viewed, axis);
        }
        return reshape(gradient, x.shape);
      },
    };
  },
};

/**
 * Registered with the wasm fixes (gradients are global, so every backend gets it); numerically
 * the stock gradient up to the order of the additions. `unregister` restores the previous one.
 */
export const tileGradFix: WasmFixUnit = {
  name: WasmFix.tileGrad,
  apply() {
    const previous = getGradient(Tile);
    registerGradient(tileGradConfig);
    return () => {
      if (getGradient(Tile) !== tileGradConfig) return;
      if (previous != null) registerGradient(previous);
      else unregisterGradient(Tile);
    };
  },
  isActive: () => getGradient(Tile) === tileGradConfig,
};
