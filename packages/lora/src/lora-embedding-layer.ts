import * as tf from '@tensorflow/tfjs-core';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import { InvalidConfigError, TunerLayer, type TunerLayerArgs } from '@peftjs/core';
import type { LoraInit } from './lora-config';
import { requireWeight } from './layer-weights';
import { LoraLayer } from './lora-layer';

/**
 * LoRA on an Embedding: y = E[ids] + s·Aᵀ[ids]·Bᵀ, with PEFT's `lora_embedding_A` `[r, vocab]` and
 * `lora_embedding_B` `[dim, r]` (no `.weight` suffix) kept as tfjs `[vocab, r]` and `[r, dim]`.
 * No dropout (PEFT applies none to embeddings) and no DoRA.
 */
export class LoraEmbedding extends LoraLayer {
  static className = 'LoraEmbedding';
  protected readonly factorNames = { a: 'lora_embedding_A', b: 'lora_embedding_B', suffix: '' };
  protected readonly supportsDora = false;
  protected readonly usesDropout = false;
  protected readonly factorPermutation = [1, 0] as const;

  constructor(args: TunerLayerArgs) {
    super(args);
  }

  private kernelVariable: LayerVariable | undefined;

  get kernel(): LayerVariable {
    return (this.kernelVariable ??= requireWeight(this.innermostBaseLayer, 'embeddings', 2));
  }

  protected factorShapes(r: number): { a: number[]; b: number[] } {
    const [vocab, dim] = this.kernel.shape as number[];
    return { a: [vocab!, r], b: [r, dim!] };
  }

  protected fanIn(): number {
    return this.kernel.shape[0]!;
  }

  /** PEFT: A zeros and B ~ N(0, 1) for true / "gaussian" / "pissa…" (its Embedding has no PiSSA); both ~ N(0, 1) for false. */
  protected override initialFactors(r: number, init: LoraInit): { a: tf.Tensor; b: tf.Tensor } {
    const shapes = this.factorShapes(r);
    if (init === false) return { a: tf.randomNormal(shapes.a), b: tf.randomNormal(shapes.b) };
    return { a: tf.zeros(shapes.a), b: tf.randomNormal(shapes.b) };
  }

  override isPendingInit(): boolean {
    return false;
  }

  private lookup(table: tf.Tensor, ids: tf.Tensor): tf.Tensor {
    const indices = ids.dtype === 'int32' ? ids : tf.cast(ids, 'int32');
    const gathered = tf.gather(table, tf.reshape(indices, [-1]));
    return tf.reshape(gathered, [...ids.shape, table.shape[1]!]);
  }

  protected preActivation(inputs: tf.Tensor): tf.Tensor {
    return this.lookup(this.kernel.read(), inputs);
  }

  protected activate(outputs: tf.Tensor): tf.Tensor {
    return outputs;
  }

  protected applyKernel(): tf.Tensor {
    throw new InvalidConfigError(`LoraEmbedding "${this.name}" does not support DoRA`, { field: 'use_dora' });
  }

  protected loraBranch(inputs: tf.Tensor, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
    const hidden = this.lookup(a, inputs);
    const r = a.shape[1]!;
    const product = tf.matMul(tf.reshape(hidden, [-1, r]) as tf.Tensor2D, b as tf.Tensor2D);
    return tf.reshape(product, [...inputs.shape, b.shape[1]!]);
  }

  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return TunerLayer.fromTunerConfig((args) => new LoraEmbedding(args), config) as unknown as T;
  }
}
