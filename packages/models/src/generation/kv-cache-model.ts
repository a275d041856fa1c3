import * as tfl from '@tensorflow/tfjs-layers';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { isKeyValueCacheLayer, isPositionIdsLayer } from '@peftjs/core';
import { isEncoderDecoder, POSITION_IDS } from '../architectures/inputs';
import { cacheGraph, type KeyValueLayout } from './cache-graph';

export type { KeyValueLayout };

/**
 * A model's graph with explicit past keys/values, over the same layer objects (so the same
 * weights, adapters included).
 *
 * Inputs: the model's own inputs (`input_ids` `[batch, new]`, `attention_mask`
 * `[batch, past + new]`, …), then `position_ids` `[batch, new]` when the model computes default
 * positions, then for each attention layer i `past_key_values.i.key` and
 * `past_key_values.i.value`, each `[batch, kvHeads, past, headDim]` (past may be 0).
 * Outputs: the model's own outputs (logits `[batch, new, vocab]`), then for each attention layer
 * `present.i.key` and `present.i.value` `[batch, kvHeads, past + new, headDim]`.
 */
export interface KvCacheModel {
  readonly model: LayersModel;
  /** The model it was derived from. */
  readonly source: LayersModel;
  /** Whether `position_ids` is an input (after the source model's inputs). */
  readonly hasPositionIds: boolean;
  /** How many inputs / outputs the source model has (the past / present tensors follow them). */
  readonly numSourceInputs: number;
  readonly numSourceOutputs: number;
  /** One entry per attention layer, in layer order. */
  readonly layers: readonly KeyValueLayout[];
}

const derived = new WeakMap<LayersModel, KvCacheModel>();

/**
 * Derives (once per model object, then cached) the graph of `model` with explicit past and
 * present keys/values, for KV-cached generation. It works on any model whose attention layers
 * implement `KeyValueCacheLayer` — the models built here, and the PEFT-rewritten copies of them,
 * because tuners replace projections, not attention cores. Returns undefined for a model without
 * such layers, and for an encoder-decoder (see `seq2seqCacheModel`).
 */
export function kvCacheModel(model: LayersModel): KvCacheModel | undefined {
  const known = derived.get(model);
  if (known) return known;
  // Encoder-decoders cache differently: seq2seqCacheModel().
  if (isEncoderDecoder(model) || !model.layers.some((layer) => isKeyValueCacheLayer(layer))) return undefined;

  const positionIds = tfl.input({ shape: [null], dtype: 'int32', name: POSITION_IDS });
  let usedPositionIds = false;
  const graph = cacheGraph({
    replaceOutput(_tensor, layer) {
      if (!isPositionIdsLayer(layer)) return undefined;
      usedPositionIds = true;
      return positionIds;
    },
  });
  const { rebuild, pasts, presents, layouts } = graph;

  const outputs = model.outputs.map(rebuild);
  const inputs = [...model.inputs, ...(usedPositionIds ? [positionIds] : []), ...pasts];
  const result: KvCacheModel = {
    model: tfl.model({ inputs, outputs: [...outputs, ...presents], name: `${model.name}_kv_cache` }),
    source: model,
    hasPositionIds: usedPositionIds,
    numSourceInputs: model.inputs.length,
    numSourceOutputs: model.outputs.length,
    layers: layouts,
  };
  derived.set(model, result);
  return result;
}
