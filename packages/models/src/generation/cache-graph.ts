import * as tfl from '@tensorflow/tfjs-layers';
import type { layers, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { isKeyValueCacheLayer } from '@peftjs/core';

/** The key/value layout of one attention layer: `[batch, numKeyValueHeads, positions, headDim]`. */
export interface KeyValueLayout {
  readonly numKeyValueHeads: number;
  readonly headDim: number;
}

type Node = layers.Layer['inboundNodes'][number];

/** Where a cached graph differs from the model's own, beyond the past keys/values. */
export interface CacheGraphHooks {
  /** An input tensor of the model, as the cached graph sees it (default: itself). */
  input?(tensor: SymbolicTensor): SymbolicTensor;
  /** A tensor the cached graph takes from elsewhere (an input of its own), or undefined to rebuild it. */
  replaceOutput?(tensor: SymbolicTensor, layer: layers.Layer): SymbolicTensor | undefined;
  /** A node's inputs in the cached graph, or undefined for its rebuilt inputs. */
  nodeInputs?(layer: layers.Layer, node: Node, rebuild: (tensor: SymbolicTensor) => SymbolicTensor): SymbolicTensor[] | undefined;
}

export interface CacheGraph {
  /** The tensor of the cached graph that stands for a tensor of the model. */
  rebuild(tensor: SymbolicTensor): SymbolicTensor;
  /** `past_key_values.i.key` / `.value` inputs, in layer order. */
  readonly pasts: SymbolicTensor[];
  /** `present` keys / values, in layer order. */
  readonly presents: SymbolicTensor[];
  readonly layouts: KeyValueLayout[];
}

/**
 * Re-applies a model's layers (the same layer objects, so the same weights and adapters) from its
 * outputs back, giving every key/value-cache attention layer past keys/values as inputs and
 * collecting its present ones; a layer whose inputs are unchanged keeps its tensors. The causal-LM
 * and encoder-decoder cache graphs both build on it.
 */
export function cacheGraph(hooks: CacheGraphHooks = {}): CacheGraph {
  const pasts: SymbolicTensor[] = [];
  const presents: SymbolicTensor[] = [];
  const layouts: KeyValueLayout[] = [];
  const memo = new Map<SymbolicTensor, SymbolicTensor>();

  const rebuild = (tensor: SymbolicTensor): SymbolicTensor => {
    const done = memo.get(tensor);
    if (done) return done;
    const layer = tensor.sourceLayer;
    if (layer.getClassName() === 'InputLayer') return hooks.input ? hooks.input(tensor) : tensor;
    const replaced = hooks.replaceOutput?.(tensor, layer);
    if (replaced) {
      memo.set(tensor, replaced);
      return replaced;
    }
    const node = layer.inboundNodes[tensor.nodeIndex]!;
    const callArgs = node.callArgs ?? {};
    const inputs = hooks.nodeInputs?.(layer, node, rebuild) ?? node.inputTensors.map(rebuild);
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
    if (inputs.length === node.inputTensors.length && inputs.every((input, position) => input === node.inputTensors[position])) {
      for (const output of node.outputTensors) memo.set(output, output);
      return tensor;
    }
    const applied = layer.apply(inputs.length === 1 ? inputs[0]! : inputs, callArgs) as SymbolicTensor | SymbolicTensor[];
    const outputs = Array.isArray(applied) ? applied : [applied];
    node.outputTensors.forEach((output, position) => memo.set(output, outputs[position]!));
    return memo.get(tensor)!;
  };

  return { rebuild, pasts, presents, layouts };
}
