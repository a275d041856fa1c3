import * as tf from '@tensorflow/tfjs-core';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import { InvalidConfigError, TunerLayer, type ParamRef, type TunerLayerArgs } from '@peftjs/core';
import { isPissaInit, type LoraInit } from './lora-config';
import { findWeight, requireWeight } from './layer-weights';
import { layerActivation, LoraLayer } from './lora-layer';

interface ConvSettings {
  strides: [number, number];
  padding: 'same' | 'valid';
  dilation: [number, number];
}

function pair(value: unknown, fallback: number): [number, number] {
  if (Array.isArray(value)) return [Number(value[0] ?? fallback), Number(value[1] ?? value[0] ?? fallback)];
  if (typeof value === 'number') return [value, value];
  return [fallback, fallback];
}

/** Whether LoraConv2D can wrap a Conv2D: channels-last data and no dilation (PEFT's lora_A copies neither). */
export function conv2dAdaptable(config: tf.serialization.ConfigDict): string | undefined {
  if (config.dataFormat === 'channelsFirst') return 'dataFormat "channelsFirst" (LoRA supports channelsLast Conv2D)';
  const dilation = pair(config.dilationRate, 1);
  if (dilation[0] !== 1 || dilation[1] !== 1) return `dilationRate [${dilation.join(', ')}] (PEFT's lora_A does not copy the dilation, so only dilation 1 is exact)`;
  if (config.padding === 'causal') return 'padding "causal"';
  return undefined;
}

/**
 * LoRA on a channels-last Conv2D: A is a conv with the base kernel size, strides and padding
 * (torch `[r, in, kh, kw]`, tfjs `[kh, kw, in, r]`), B a 1×1 conv (torch `[out, r, 1, 1]`, tfjs
 * `[1, 1, r, out]`); the DoRA magnitude is saved as PEFT 0.11.1 does, `[1, out, 1, 1]`.
 */
export class LoraConv2D extends LoraLayer {
  static className = 'LoraConv2D';
  protected readonly factorNames = { a: 'lora_A', b: 'lora_B', suffix: '.weight' };
  protected readonly supportsDora = true;
  protected readonly usesDropout = true;
  protected readonly factorPermutation = [3, 2, 0, 1] as const;

  constructor(args: TunerLayerArgs) {
    super(args);
  }

  private kernelVariable: LayerVariable | undefined;
  private biasVariable: LayerVariable | null | undefined;
  private convSettings: ConvSettings | undefined;

  get kernel(): LayerVariable {
    return (this.kernelVariable ??= requireWeight(this.innermostBaseLayer, 'kernel', 4));
  }

  private get bias(): LayerVariable | undefined {
    if (this.biasVariable === undefined) {
      const bias = findWeight(this.innermostBaseLayer, 'bias');
      this.biasVariable = bias && bias.shape.length === 1 ? bias : null;
    }
    return this.biasVariable ?? undefined;
  }

  private get settings(): ConvSettings {
    if (!this.convSettings) {
      const config = this.innermostBaseLayer.getConfig();
      this.convSettings = { strides: pair(config.strides, 1), padding: config.padding === 'same' ? 'same' : 'valid', dilation: pair(config.dilationRate, 1) };
    }
    return this.convSettings;
  }

  protected factorShapes(r: number): { a: number[]; b: number[] } {
    const [kh, kw, inChannels, outChannels] = this.kernel.shape as number[];
    return { a: [kh!, kw!, inChannels!, r], b: [1, 1, r, outChannels!] };
  }

  protected fanIn(): number {
    const [kh, kw, inChannels] = this.kernel.shape as number[];
    return kh! * kw! * inChannels!;
  }

  protected override initialFactors(r: number, init: LoraInit): { a: tf.Tensor; b: tf.Tensor } {
    if (isPissaInit(init)) {
      throw new InvalidConfigError(
        `init_lora_weights ${JSON.stringify(init)} is not supported for Conv2D layer "${this.name}" (PEFT 0.11.1 only implements PiSSA for linear layers)`,
        {
          field: 'init_lora_weights',
        },
      );
    }
    return super.initialFactors(r, init);
  }

  protected override magnitudeParam(variable: LayerVariable): ParamRef {
    const out = variable.shape[0]!;
    return {
      variable,
      torchShape: [1, out, 1, 1],
      toTorch: (value) => tf.reshape(value, [1, out, 1, 1]),
      fromTorch: (value) => tf.reshape(value, [out]),
    };
  }

  protected preActivation(inputs: tf.Tensor): tf.Tensor {
    const output = this.applyKernel(inputs, this.kernel.read());
    const bias = this.bias;
    return bias ? tf.add(output, bias.read()) : output;
  }

  protected activate(outputs: tf.Tensor): tf.Tensor {
    const activation = layerActivation(this.innermostBaseLayer);
    return activation ? activation(outputs) : outputs;
  }

  protected applyKernel(inputs: tf.Tensor, kernel: tf.Tensor): tf.Tensor {
    const { strides, padding, dilation } = this.settings;
    return tf.conv2d(inputs as tf.Tensor4D, kernel as tf.Tensor4D, strides, padding, 'NHWC', dilation);
  }

  protected loraBranch(inputs: tf.Tensor, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
    const { strides, padding } = this.settings;
    const hidden = tf.conv2d(inputs as tf.Tensor4D, a as tf.Tensor4D, strides, padding, 'NHWC');
    return tf.conv2d(hidden, b as tf.Tensor4D, 1, 'valid', 'NHWC');
  }

  protected override deltaFromFactors(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
    const [kh, kw, inChannels, r] = a.shape as number[];
    const out = b.shape[3]!;
    const product = tf.matMul(tf.reshape(a, [kh! * kw! * inChannels!, r!]) as tf.Tensor2D, tf.reshape(b, [r!, out]) as tf.Tensor2D);
    return tf.reshape(product, [kh!, kw!, inChannels!, out]);
  }

  protected override kernelToTorch2d(kernel: tf.Tensor): tf.Tensor2D {
    const out = kernel.shape[3]!;
    return tf.reshape(tf.transpose(kernel, [3, 2, 0, 1]), [out, -1]) as tf.Tensor2D;
  }

  protected override kernelFromTorch2d(weight: tf.Tensor2D): tf.Tensor {
    const [kh, kw, inChannels, out] = this.kernel.shape as number[];
    return tf.transpose(tf.reshape(weight, [out!, inChannels!, kh!, kw!]), [2, 3, 1, 0]);
  }

  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return TunerLayer.fromTunerConfig((args) => new LoraConv2D(args), config) as unknown as T;
  }
}
