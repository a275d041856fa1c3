import type { layers } from '@tensorflow/tfjs-layers';

/*
 * The layer contracts between model builders and methods: a model marks the layers that play
 * these parts with the symbols below (a plain property set to true), and a method finds them with
 * the guards. `Symbol.for` keeps the marks shared between two copies of core. The strings are
 * the ones @peftjs/models always used, so models built by older copies are still recognised.
 */

/**
 * An attention core that takes past keys/values: called with its `baseInputCount` usual inputs
 * plus `[pastKey, pastValue]` (each `[batch, kvHeads, past, headDim]`, past may be 0) it returns
 * `[output, presentKey, presentValue]` with the new positions appended. Generation's KV cache and
 * prefix methods build on it.
 */
export const KEY_VALUE_CACHE_LAYER: unique symbol = Symbol.for('peftjs.models.keyValueCacheLayer') as never;

/** transformers' default position ids: `arange(seq)` from a `[batch, seq, ...]` input. */
export const POSITION_IDS_LAYER: unique symbol = Symbol.for('peftjs.models.positionIdsLayer') as never;

/**
 * The additive attention mask: inputs `[attention_mask [batch, keys], hidden [batch, queries, ...]]`,
 * keys = past + queries. Methods that add positions in front extend the mask here.
 */
export const ATTENTION_MASK_LAYER: unique symbol = Symbol.for('peftjs.models.attentionMaskLayer') as never;

/**
 * An encoder-decoder's encoder input embeddings (transformers' `inputs_embeds`): an identity after
 * the token embedding that the decoder shares; `embeddingLayer` is that token embedding.
 */
export const INPUTS_EMBEDS_LAYER: unique symbol = Symbol.for('peftjs.models.inputsEmbedsLayer') as never;

/** What a key/value-cache attention core tells generation and prefix methods. */
export interface KeyValueCacheLayer {
  readonly [KEY_VALUE_CACHE_LAYER]: true;
  readonly numKeyValueHeads: number;
  readonly headDim: number;
  readonly numHeads?: number;
  /** Inputs before the optional past key/value pair. */
  readonly baseInputCount: number;
}

export interface InputsEmbedsLayer {
  readonly [INPUTS_EMBEDS_LAYER]: true;
  /** The token embedding whose output this is, when known. */
  embeddingLayer?: layers.Layer;
}

function marked(layer: unknown, mark: symbol): boolean {
  return typeof layer === 'object' && layer !== null && (layer as Record<symbol, unknown>)[mark] === true;
}

export function isKeyValueCacheLayer(layer: unknown): layer is layers.Layer & KeyValueCacheLayer {
  return marked(layer, KEY_VALUE_CACHE_LAYER);
}

export function isPositionIdsLayer(layer: unknown): layer is layers.Layer & { readonly [POSITION_IDS_LAYER]: true } {
  return marked(layer, POSITION_IDS_LAYER);
}

export function isAttentionMaskLayer(layer: unknown): layer is layers.Layer & { readonly [ATTENTION_MASK_LAYER]: true } {
  return marked(layer, ATTENTION_MASK_LAYER);
}

export function isInputsEmbedsLayer(layer: unknown): layer is layers.Layer & InputsEmbedsLayer {
  return marked(layer, INPUTS_EMBEDS_LAYER);
}
