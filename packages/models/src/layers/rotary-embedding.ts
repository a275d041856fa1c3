import * as tf from '@tensorflow/tfjs-core';
import { layers } from '@tensorflow/tfjs-layers';
import { single, singleShape, type Kwargs, type Shape } from './layer-utils';

/** transformers' `rope_scaling` for the kinds supported here. */
export interface RopeScaling {
  ropeType: 'default' | 'linear' | 'llama3';
  factor?: number;
  lowFreqFactor?: number;
  highFreqFactor?: number;
  originalMaxPositionEmbeddings?: number;
}

export interface RotaryEmbeddingArgs {
  name: string;
  /** The rotated size per head (head_dim). */
  dim: number;
  base: number;
  scaling?: RopeScaling | null;
}

/** Llama's inverse frequencies `1 / base^(2i/dim)` in float32, with rope_scaling applied. */
export function ropeInverseFrequencies(dim: number, base: number, scaling?: RopeScaling | null): Float32Array {
  const half = dim / 2;
  const inverse = new Float32Array(half);
  for (let index = 0; index < half; index++) {
    // torch: arange(0, dim, 2).float() / dim, then base ** that, then 1.0 / ..., all float32.
    const exponent = Math.fround(Math.fround(2 * index) / dim);
    inverse[index] = Math.fround(1 / Math.fround(Math.pow(base, exponent)));
  }
  if (!scaling || scaling.ropeType === 'default') return inverse;
  const factor = scaling.factor ?? 1;
  if (scaling.ropeType === 'linear') return inverse.map((value) => Math.fround(value / factor));
  // llama3: long wavelengths are divided by `factor`, short ones kept, and the band between smoothed.
  const low = scaling.lowFreqFactor ?? 1;
  const high = scaling.highFreqFactor ?? 4;
  const original = scaling.originalMaxPositionEmbeddings ?? 8192;
  const lowFreqWavelength = original / low;
  const highFreqWavelength = original / high;
  return inverse.map((value) => {
    const wavelength = (2 * Math.PI) / value;
    if (wavelength < highFreqWavelength) return value;
    if (wavelength > lowFreqWavelength) return Math.fround(value / factor);
    const smooth = (original / wavelength - low) / (high - low);
    return Math.fround((1 - smooth) * (value / factor) + smooth * value);
  });
}

/**
 * Rotary position embedding tables: position ids `[batch, seq]` → `[cos, sin]`, each
 * `[batch, seq, dim]` built from `cat(freqs, freqs)` (the half-split, `rotate_half` convention).
 */
export class RotaryEmbedding extends layers.Layer {
  static className = 'LlamaRotaryEmbedding';
  readonly dim: number;
  readonly base: number;
  readonly scaling: RopeScaling | null;
  private readonly inverseFrequencies: Float32Array;

  constructor(args: RotaryEmbeddingArgs) {
    super({ name: args.name, trainable: false });
    this.dim = args.dim;
    this.base = args.base;
    this.scaling = args.scaling ?? null;
    this.inverseFrequencies = ropeInverseFrequencies(this.dim, this.base, this.scaling);
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape[] {
    const [batch, seq] = singleShape(inputShape);
    return [
      [batch ?? null, seq ?? null, this.dim],
      [batch ?? null, seq ?? null, this.dim],
    ];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor[] {
    return tf.tidy(() => {
      const positions = tf.cast(single(inputs), 'float32');
      const inverse = tf.tensor1d(this.inverseFrequencies, 'float32');
      const freqs = tf.mul(tf.expandDims(positions, -1), inverse);
      const emb = tf.concat([freqs, freqs], -1);
      return [tf.cos(emb), tf.sin(emb)];
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), dim: this.dim, base: this.base, scaling: this.scaling as unknown as tf.serialization.ConfigDict };
  }
}

tf.serialization.registerClass(RotaryEmbedding);
