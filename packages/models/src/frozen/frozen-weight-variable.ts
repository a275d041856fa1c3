import * as tf from '@tensorflow/tfjs-core';
import { LayerVariable } from '@tensorflow/tfjs-layers';
import { warn } from '@peftjs/core';
import type { FrozenWeight } from './frozen-weight';

const marker = Symbol.for('peftjs.frozenWeightVariable');

/**
 * A layer weight whose values live in a frozen-weight store, not in a tfjs variable. It stands
 * where the layer's kernel or embedding table stood, so everything that finds weights by name
 * (torch naming, parameter counts, loading, saving, LoRA's and IA3's merge) keeps working:
 * `read()` returns a new dequantised tensor in the tfjs layout (the caller, or its tidy, disposes
 * it) and `write()` stores new values in the weight's own format (requantising). It never trains.
 *
 * `layout` `'transposed'`: the tfjs layout is the store's `[rows, cols]` transposed (a Dense
 * kernel `[in, out]` over a torch Linear weight `[out, in]`); `'same'`: an embedding table.
 */
export class FrozenWeightVariable extends LayerVariable {
  readonly [marker] = true;
  readonly weight: FrozenWeight;
  readonly layout: 'same' | 'transposed';

  constructor(weight: FrozenWeight, name: string, layout: 'same' | 'transposed') {
    // The base class needs a value: a one-element placeholder stands for the stored matrix.
    const placeholder = tf.zeros([1]);
    super(placeholder, 'float32', name, false);
    placeholder.dispose();
    this.weight = weight;
    this.layout = layout;
    (this as { shape: number[] }).shape = layout === 'same' ? [weight.rows, weight.cols] : [weight.cols, weight.rows];
  }

  static isFrozenWeightVariable(value: unknown): value is FrozenWeightVariable {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[marker] === true;
  }

  override read(): tf.Tensor {
    const stored = tf.tensor2d(this.weight.read(), [this.weight.rows, this.weight.cols], 'float32');
    if (this.layout === 'same') return stored;
    const transposed = tf.transpose(stored);
    stored.dispose();
    return transposed;
  }

  override write(newValue: tf.Tensor): this {
    const expected = this.shape as number[];
    if (newValue.shape.join(',') !== expected.join(',')) {
      throw new Error(`Shape mismatch: [${newValue.shape.join(', ')}] vs. [${expected.join(', ')}] (frozen weight ${this.name})`);
    }
    // Stored values are read back synchronously: merging into a store is a wasm/CPU-side operation.
    const stored = this.layout === 'same' ? newValue : tf.transpose(newValue);
    const values = stored.dataSync() as Float32Array;
    if (stored !== newValue) stored.dispose();
    if (this.weight.storage === 'int8' || this.weight.storage === 'nf4' || this.weight.storage === 'fp4') {
      // PEFT's warning when it merges into a bitsandbytes layer (the sum is requantised).
      warn(`Merge lora module to ${this.weight.storage === 'int8' ? '8-bit' : '4-bit'} linear may get different generations due to rounding errors. (${this.name})`);
    }
    this.weight.write(values);
    return this;
  }

  override get trainable(): boolean {
    return false;
  }

  /** Stored weights never train: requests to make them trainable (unload, bias "all") leave them frozen. */
  override set trainable(_value: boolean) {
    // ignored on purpose
  }

  override dispose(): void {
    super.dispose();
    this.weight.dispose();
  }
}
