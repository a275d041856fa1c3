import { serialization } from '@tensorflow/tfjs-core';
import { layers as tflLayers, type layers } from '@tensorflow/tfjs-layers';
import type { DenseLayerArgs } from '@tensorflow/tfjs-layers/dist/layers/core';
import { registerLayerFormat, registerLinearLayerClass } from '@peftjs/core';

const DenseClass = tflLayers.dense({ units: 1 }).constructor as new (args: DenseLayerArgs) => layers.Layer;

/** A linear layer whose torch weight is `[in, out]`, as transformers' GPT-2 Conv1D (fan_in_fan_out). */
export class FanInFanOutDense extends DenseClass {
  static className = 'FanInFanOutDense';
}

serialization.registerClass(FanInFanOutDense as unknown as serialization.SerializableConstructor<serialization.Serializable>);
registerLinearLayerClass(FanInFanOutDense.className);
registerLayerFormat(FanInFanOutDense.className, { weights: { kernel: { torchName: 'weight' }, bias: { torchName: 'bias' } } });
