import { serialization } from '@tensorflow/tfjs-core';
import type { layers } from '@tensorflow/tfjs-layers';
import type { DenseLayerArgs } from '@tensorflow/tfjs-layers/dist/layers/core';
import { registerLayerFormat, registerLinearLayerClass } from '@peftjs/core';
import { Linear } from './linear';
import { frozenWeightFor } from '../frozen/frozen-build-scope';
import { FrozenGPT2Conv1D } from '../frozen/frozen-layers';

/**
 * transformers' GPT-2 `Conv1D`: a linear layer whose torch weight is `[in, out]` (`y = x W + b`),
 * which is exactly the tfjs Dense kernel layout. A Dense subclass under its own class name (tfjs
 * uses `Conv1D` for temporal convolution), registered as linear for 'all-linear' and with a torch
 * format that does not transpose the kernel.
 */
export class GPT2Conv1D extends Linear {
  static className = 'GPT2Conv1D';
}

serialization.registerClass(GPT2Conv1D as unknown as serialization.SerializableConstructor<serialization.Serializable>);
registerLinearLayerClass(GPT2Conv1D.className);
registerLayerFormat(GPT2Conv1D.className, { weights: { kernel: { torchName: 'weight' }, bias: { torchName: 'bias' } } });

export function gpt2Conv1D(args: DenseLayerArgs): layers.Layer {
  const weight = args.name === undefined ? undefined : frozenWeightFor({ name: args.name, kind: 'conv1d', units: args.units });
  return weight ? new FrozenGPT2Conv1D({ ...args, weight }) : new GPT2Conv1D(args);
}
