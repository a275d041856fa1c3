import type * as tf from '@tensorflow/tfjs-core';
import type { layers } from '@tensorflow/tfjs-layers';

/**
 * The layer contracts of @peftjs/models that prompt learning builds on, recognised by their
 * `Symbol.for` markers and class names (so this package needs @peftjs/models only to generate):
 *
 * - an attention core that takes past keys/values (`KeyValueCacheLayer`: called with its inputs
 *   plus `[pastKey, pastValue]` `[batch, kvHeads, past, headDim]` it returns
 *   `[output, presentKey, presentValue]`; `baseInputCount` inputs come before the pair);
 * - the default position ids (`PositionIds`: `arange(seq)` from a `[batch, seq, ...]` input);
 * - the additive attention mask (`AttentionMaskBias`: inputs `[attention_mask [batch, keys],
 *   hidden [batch, queries, ...]]`, keys = past + queries);
 * - an encoder-decoder's encoder input embeddings (`InputsEmbeds`, an identity after the token
 *   embedding that the decoder shares): where seq2seq prompt tuning prepends its virtual tokens.
 *
 * A custom architecture that builds with these layers (or marks its own layers the same way)
 * gets prompt tuning, P-tuning and prefix tuning without further registration.
 */
export const KEY_VALUE_CACHE_LAYER = Symbol.for('peftjs.models.keyValueCacheLayer');
export const POSITION_IDS_LAYER = Symbol.for('peftjs.models.positionIdsLayer');
export const ATTENTION_MASK_LAYER_CLASS = 'AttentionMaskBias';
export const INPUTS_EMBEDS_LAYER = Symbol.for('peftjs.models.inputsEmbedsLayer');

export interface KeyValueCacheCore {
  readonly numKeyValueHeads: number;
  readonly headDim: number;
  readonly numHeads?: number;
  /** Inputs before the optional past key/value pair. */
  readonly baseInputCount: number;
}

export function isKeyValueCacheCore(layer: unknown): layer is layers.Layer & KeyValueCacheCore {
  return typeof layer === 'object' && layer !== null && (layer as Record<symbol, unknown>)[KEY_VALUE_CACHE_LAYER] === true;
}

export function isPositionIdsLayer(layer: unknown): boolean {
  return typeof layer === 'object' && layer !== null && (layer as Record<symbol, unknown>)[POSITION_IDS_LAYER] === true;
}

/** An encoder's `inputs_embeds` seam (T5 / mT5 built by @peftjs/models). */
export function isInputsEmbedsLayer(layer: unknown): layer is layers.Layer & { embeddingLayer?: layers.Layer } {
  return typeof layer === 'object' && layer !== null && (layer as Record<symbol, unknown>)[INPUTS_EMBEDS_LAYER] === true;
}

export function isAttentionMaskLayer(layer: layers.Layer): boolean {
  return layer.getClassName() === ATTENTION_MASK_LAYER_CLASS;
}

export function tensorList(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
  return Array.isArray(inputs) ? inputs : [inputs];
}
