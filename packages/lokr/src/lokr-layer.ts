import * as tf from '@tensorflow/tfjs-core';
import { TunerLayer, type TunerLayerArgs } from '@peftjs/core';
import { kaimingUniform, kron, LycorisLayer, tuckerRebuild, type LycorisAdapterOptions, type LycorisBaseGeometry } from '@peftjs/lycoris';
import { factorization } from './factorization';
import { LOKR_PEFT_TYPE } from './lokr-config';

/** LoKr's per-layer options: the shared LyCORIS ones plus the decomposition settings. */
export interface LokrAdapterOptions extends LycorisAdapterOptions {
  decomposeBoth: boolean;
  decomposeFactor: number;
}

/** How LoKr splits a layer: `out = a·b`, `in = c·d`, and which factors are full. */
export interface LokrShape {
  a: number;
  b: number;
  c: number;
  d: number;
  useW1: boolean;
  useW2: boolean;
  useTucker: boolean;
}

/** PEFT 0.11.1's LoKrLayer.update_layer shape rules. */
export function lokrShape(options: LokrAdapterOptions, geometry: LycorisBaseGeometry): LokrShape {
  const [c, d] = factorization(geometry.inFeatures, options.decomposeFactor);
  const [a, b] = factorization(geometry.outFeatures, options.decomposeFactor);
  const { r } = options;
  const useW1 = !(options.decomposeBoth && r < Math.max(a, c) / 2);
  const useW2 = !(r < Math.max(b, d) / 2);
  const [kh, kw] = geometry.kernelSize ?? [1, 1];
  const useTucker = geometry.kind === 'conv2d' && options.useEffectiveConv2d && !(kh === 1 && kw === 1);
  return { a, b, c, d, useW1, useW2, useTucker };
}

/**
 * PEFT 0.11.1's LoKrLayer: ΔW = kron(w1, w2) reshaped to the base weight, with w1 `[a, c]` full
 * (`lokr_w1`) or `lokr_w1_a·lokr_w1_b` (decompose_both with a small rank), and w2 `[b, d]` full
 * (`lokr_w2`, `[b, d, kh, kw]` on Conv2D), low-rank (`lokr_w2_a·lokr_w2_b`, the second `[r, d·kh·kw]`
 * on Conv2D) or, with the effective Conv2d form, a Tucker rebuild from `lokr_t2`. As in PEFT 0.11.1,
 * α / r is computed but never applied: alpha has no effect.
 */
abstract class LokrLayer extends LycorisLayer {
  readonly peftType = LOKR_PEFT_TYPE;

  protected initialFactors(rawOptions: LycorisAdapterOptions, geometry: LycorisBaseGeometry): Array<[string, tf.Tensor]> {
    const options = rawOptions as LokrAdapterOptions;
    const { r } = options;
    const { a, b, c, d, useW1, useW2, useTucker } = lokrShape(options, geometry);
    const [kh, kw] = geometry.kernelSize ?? [1, 1];
    const conv = geometry.kind === 'conv2d';
    const shapes: Array<[string, number[]]> = useW1
      ? [['lokr_w1', [a, c]]]
      : [
          ['lokr_w1_a', [a, r]],
          ['lokr_w1_b', [r, c]],
        ];
    if (useW2) shapes.push(['lokr_w2', conv ? [b, d, kh, kw] : [b, d]]);
    else if (useTucker) shapes.push(['lokr_t2', [r, r, kh, kw]], ['lokr_w2_a', [r, b]], ['lokr_w2_b', [r, d]]);
    else shapes.push(['lokr_w2_a', [b, r]], ['lokr_w2_b', [r, conv ? d * kh * kw : d]]);
    // PEFT's default init zeroes w1 (or w1_a) so the adapter starts as a no-op; init_weights=False draws all.
    const zeroed = options.initWeights ? new Set(['lokr_w1', 'lokr_w1_a']) : new Set<string>();
    return shapes.map(([name, shape]) => [name, zeroed.has(name) ? tf.zeros(shape) : kaimingUniform(shape)]);
  }

  protected rebuildDelta(adapterName: string): tf.Tensor {
    const factor = (name: string) => this.factor(adapterName, name)?.read();
    const w1 = factor('lokr_w1') ?? tf.matMul(factor('lokr_w1_a') as tf.Tensor2D, factor('lokr_w1_b') as tf.Tensor2D);
    let w2 = factor('lokr_w2');
    if (!w2) {
      const t2 = factor('lokr_t2');
      w2 = t2 ? tuckerRebuild(t2, factor('lokr_w2_a')!, factor('lokr_w2_b')!) : tf.matMul(factor('lokr_w2_a') as tf.Tensor2D, factor('lokr_w2_b') as tf.Tensor2D);
    }
    return kron(w1, w2);
  }
}

/** LoKr on a Dense layer (torch Linear). */
export class LokrDense extends LokrLayer {
  static className = 'LokrDense';

  constructor(args: TunerLayerArgs) {
    super(args);
  }

  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return TunerLayer.fromTunerConfig((args) => new LokrDense(args), config) as unknown as T;
  }
}

/** LoKr on a channels-last Conv2D. */
export class LokrConv2D extends LokrLayer {
  static className = 'LokrConv2D';

  constructor(args: TunerLayerArgs) {
    super(args);
  }

  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return TunerLayer.fromTunerConfig((args) => new LokrConv2D(args), config) as unknown as T;
  }
}
