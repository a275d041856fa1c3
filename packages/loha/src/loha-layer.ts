import * as tf from '@tensorflow/tfjs-core';
import { TunerLayer, type TunerLayerArgs } from '@peftjs/core';
import { kaimingUniform, LycorisLayer, tuckerRebuild, type LycorisAdapterOptions, type LycorisBaseGeometry } from '@peftjs/lycoris';
import { LOHA_PEFT_TYPE } from './loha-config';

/** Whether an adapter uses the effective (Tucker) Conv2d form: asked for, and a kernel larger than 1×1. */
function usesTucker(options: LycorisAdapterOptions, geometry: LycorisBaseGeometry): boolean {
  const [kh, kw] = geometry.kernelSize ?? [1, 1];
  return geometry.kind === 'conv2d' && options.useEffectiveConv2d && !(kh === 1 && kw === 1);
}

/**
 * PEFT 0.11.1's LoHaLayer: ΔW = (w1_a·w1_b) ⊙ (w2_a·w2_b) · α/r. On a Conv2D without the effective
 * form the factors act on the weight viewed as `[out, in·kh·kw]`; with `use_effective_conv2d`
 * (kernels larger than 1×1) `hada_t1`, `hada_t2` `[r, r, kh, kw]` rebuild each product by a Tucker
 * contraction with `w*_a` `[r, out]` and `w*_b` `[r, in]`.
 */
abstract class LohaLayer extends LycorisLayer {
  readonly peftType = LOHA_PEFT_TYPE;

  protected initialFactors(options: LycorisAdapterOptions, geometry: LycorisBaseGeometry): Array<[string, tf.Tensor]> {
    const { r } = options;
    const { outFeatures, inFeatures } = geometry;
    const [kh, kw] = geometry.kernelSize ?? [1, 1];
    const shapes: Array<[string, number[]]> = usesTucker(options, geometry)
      ? [
          ['hada_t1', [r, r, kh, kw]],
          ['hada_w1_a', [r, outFeatures]],
          ['hada_w1_b', [r, inFeatures]],
          ['hada_t2', [r, r, kh, kw]],
          ['hada_w2_a', [r, outFeatures]],
          ['hada_w2_b', [r, inFeatures]],
        ]
      : [
          ['hada_w1_a', [outFeatures, r]],
          ['hada_w1_b', [r, inFeatures * kh * kw]],
          ['hada_w2_a', [outFeatures, r]],
          ['hada_w2_b', [r, inFeatures * kh * kw]],
        ];
    // PEFT's default init zeroes hada_w2_b so the adapter starts as a no-op; init_weights=False draws all.
    return shapes.map(([name, shape]) => [name, !options.initWeights || name !== 'hada_w2_b' ? kaimingUniform(shape) : tf.zeros(shape)]);
  }

  protected rebuildDelta(adapterName: string, options: LycorisAdapterOptions): tf.Tensor {
    const read = (name: string) => this.factor(adapterName, name)!.read();
    const scaling = options.alpha / options.r;
    if (this.factor(adapterName, 'hada_t1')) {
      const first = tuckerRebuild(read('hada_t1'), read('hada_w1_a'), read('hada_w1_b'));
      const second = tuckerRebuild(read('hada_t2'), read('hada_w2_a'), read('hada_w2_b'));
      return tf.mul(tf.mul(first, second), scaling);
    }
    const first = tf.matMul(read('hada_w1_a') as tf.Tensor2D, read('hada_w1_b') as tf.Tensor2D);
    const second = tf.matMul(read('hada_w2_a') as tf.Tensor2D, read('hada_w2_b') as tf.Tensor2D);
    return tf.mul(tf.mul(first, second), scaling);
  }
}

/** LoHa on a Dense layer (torch Linear). */
export class LohaDense extends LohaLayer {
  static className = 'LohaDense';

  constructor(args: TunerLayerArgs) {
    super(args);
  }

  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return TunerLayer.fromTunerConfig((args) => new LohaDense(args), config) as unknown as T;
  }
}

/** LoHa on a channels-last Conv2D. */
export class LohaConv2D extends LohaLayer {
  static className = 'LohaConv2D';

  constructor(args: TunerLayerArgs) {
    super(args);
  }

  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return TunerLayer.fromTunerConfig((args) => new LohaConv2D(args), config) as unknown as T;
  }
}
