import * as tf from '@tensorflow/tfjs-core';
import { veraProjectionValues } from './torch-generator';

/**
 * One adapter's frozen random pair, shared by every layer of the adapter (PEFT's `vera_A` /
 * `vera_B` buffers): `a` `[r, in]`, `b` `[out, r]` in torch layout. Not parameters: not trained,
 * not counted, freed when the last layer lets go.
 */
export class VeraProjections {
  private pair: { a: tf.Tensor2D; b: tf.Tensor2D };
  private holders = 0;

  constructor(
    readonly r: number,
    readonly inFeatures: number,
    readonly outFeatures: number,
    key: number,
  ) {
    const { a, b } = veraProjectionValues(key, r, inFeatures, outFeatures);
    this.pair = { a: tf.keep(tf.tensor2d(a, [r, inFeatures])), b: tf.keep(tf.tensor2d(b, [outFeatures, r])) };
  }

  get a(): tf.Tensor2D {
    return this.pair.a;
  }

  get b(): tf.Tensor2D {
    return this.pair.b;
  }

  hold(): void {
    this.holders++;
  }

  release(): void {
    this.holders--;
    this.disposeIfUnheld();
  }

  disposeIfUnheld(): void {
    if (this.holders <= 0) tf.dispose([this.pair.a, this.pair.b]);
  }

  /** Replaces the pair with saved values (torch layout, already checked); the caller keeps its tensors. */
  replace(a: tf.Tensor, b: tf.Tensor): void {
    const next = { a: tf.keep(tf.tidy(() => tf.cast(a, 'float32').clone())) as tf.Tensor2D, b: tf.keep(tf.tidy(() => tf.cast(b, 'float32').clone())) as tf.Tensor2D };
    tf.dispose([this.pair.a, this.pair.b]);
    this.pair = next;
  }
}
