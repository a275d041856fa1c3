import * as tfl from '@tensorflow/tfjs-layers';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { isKeyValueCacheLayer, isPositionIdsLayer } from '@peftjs/core';
import { isEncoderDecoder, POSITION_IDS } from '../architectures/inputs';

/** The key/value layout of one attention layer: `[batch, numKeyValueHeads, positions, headDim]`. */
export interface KeyValueLayout {
  readonly numKeyValueHeads: number;
  readonly headDim: number;
}

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
  const pasts: SymbolicTensor[] = [];
  const presents: SymbolicTensor[] = [];
  const layouts: KeyValueLayout[] = [];
  const memo = new Map<SymbolicTensor, SymbolicTensor>();

  const rebuild = (tensor: SymbolicTensor): SymbolicTensor => {
    const done = memo.get(tensor);
    if (done) return done;
    const layer = tensor.sourceLayer;
    if (layer.getClassName() === 'InputLayer') return tensor;
    if (isPositionIdsLayer(layer)) {
      usedPositionIds = true;
      memo.set(tensor, positionIds);
      return positionIds;
    }
    const node = layer.inboundNodes[tensor.nodeIndex]!;
    const inputs = node.inputTensors.map(rebuild);
    const callArgs = node.callArgs ?? {};
    if (isKeyValueCacheLayer(layer)) {
      const index = layouts.length;
      const shape = [layer.numKeyValueHeads, null, layer.headDim];
      const pastKey = tfl.input({ shape, dtype: 'float32', name: `past_key_values.${index}.key` });
      const pastValue = tfl.input({ shape, dtype: 'float32', name: `past_key_values.${index}.value` });
      const [output, presentKey, presentValue] = layer.apply([...inputs, pastKey, pastValue], callArgs) as SymbolicTensor[];
      layouts.push({ numKeyValueHeads: layer.numKeyValueHeads, headDim: layer.headDim });
      pasts.push(pastKey, pastValue);
      presents.push(presentKey!, presentValue!);
      memo.set(node.outputTensors[0]!, output!);
      return output!;
    }
    if (inputs.every((input, position) => input === node.inputTensors[position])) {
      for (const output of node.outputTensors) memo.set(output, output);
      return tensor;
    }
    const applied = layer.apply(inputs.length === 1 ? inputs[0]! : inputs, callArgs) as SymbolicTensor | SymbolicTensor[];
    const outputs = Array.isArray(applied) ? applied : [applied];
    node.outputTensors.forEach((output, position) => memo.set(output, outputs[position]!));
    return memo.get(tensor)!;
  };

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
