import type { layers } from '@tensorflow/tfjs-layers';

/**
 * The attention core of @peftjs/models that adaption prompts wrap, recognised by its
 * `Symbol.for` marker (this package needs @peftjs/models only for tests): called with
 * `[q, k, v, bias, cos, sin]` (q/k/v the projections' outputs before RoPE, cos/sin the rotary
 * tables at the tokens' positions) plus an optional `[pastKey, pastValue]`, it returns the
 * attention output `[batch, seq, heads·headDim]` (with the present keys/values when past was given).
 */
export const KEY_VALUE_CACHE_LAYER = Symbol.for('peftjs.models.keyValueCacheLayer');

export interface RotaryAttentionCore {
  readonly numHeads: number;
  readonly numKeyValueHeads: number;
  readonly headDim: number;
  readonly rotary?: boolean;
  readonly fusedQkv?: boolean;
  /** Inputs before the optional past key/value pair. */
  readonly baseInputCount: number;
}

export function isAttentionCore(layer: unknown): layer is layers.Layer & RotaryAttentionCore {
  return typeof layer === 'object' && layer !== null && (layer as Record<symbol, unknown>)[KEY_VALUE_CACHE_LAYER] === true;
}
