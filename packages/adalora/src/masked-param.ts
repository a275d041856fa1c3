import * as tf from '@tensorflow/tfjs-core';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import type { ParamRef } from '@peftjs/core';

/** The indices of the kept entries of a mask. */
export function keptIndices(mask: readonly boolean[]): number[] {
  const indices: number[] = [];
  mask.forEach((kept, index) => {
    if (kept) indices.push(index);
  });
  return indices;
}

/**
 * A parameter kept in memory at its full initial rank but saved with only the kept triplets, as
 * PEFT's resize_state_dict_by_rank_pattern writes it: `rankAxis` is the rank axis (0 for lora_A
 * and lora_E, 1 for lora_B). Loading scatters the kept rows back and zeroes the pruned ones (their
 * lora_E entry is zero, so they add nothing, as in PEFT's resized modules).
 */
export function maskedParam(variable: LayerVariable, rankAxis: 0 | 1, mask: () => readonly boolean[] | null): ParamRef {
  const pruning = (): readonly boolean[] | null => {
    const current = mask();
    return current?.some((kept) => !kept) ? current : null;
  };
  return {
    variable,
    get torchShape(): number[] {
      const shape = [...(variable.shape as number[])];
      const current = pruning();
      if (current) shape[rankAxis] = keptIndices(current).length;
      return shape;
    },
    toTorch(value) {
      const current = pruning();
      if (!current) return value.clone();
      return tf.tidy(() => tf.gather(value, tf.tensor1d(keptIndices(current), 'int32'), rankAxis));
    },
    fromTorch(value) {
      const current = pruning();
      if (!current) return value.clone();
      return tf.tidy(() => {
        // Row j of the result is the saved row of kept triplet j, or the appended zero row.
        const kept = keptIndices(current).length;
        const padShape = [...value.shape];
        padShape[rankAxis] = 1;
        const padded = tf.concat([value, tf.zeros(padShape)], rankAxis);
        let next = 0;
        const source = current.map((isKept) => (isKept ? next++ : kept));
        return tf.gather(padded, tf.tensor1d(source, 'int32'), rankAxis);
      });
    },
  };
}
