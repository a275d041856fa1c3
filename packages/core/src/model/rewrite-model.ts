import * as tfl from '@tensorflow/tfjs-layers';
import type { layers, LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { isLayersModel } from './named-layers';

/** Undo information for a rewrite that touched shared layers. */
export interface RewriteJournal {
  /** Each layer's inbound-node count before the rewrite called it again. */
  readonly inboundCounts: Map<layers.Layer, number>;
  readonly outboundCounts: Map<layers.Layer, number>;
}

export function createJournal(): RewriteJournal {
  return { inboundCounts: new Map(), outboundCounts: new Map() };
}

/** Drops the graph nodes a failed rewrite added to shared layers, so the user's model is as it was. */
export function rollbackJournal(journal: RewriteJournal): void {
  for (const [layer, count] of journal.inboundCounts) layer.inboundNodes.length = Math.min(layer.inboundNodes.length, count);
  for (const [layer, count] of journal.outboundCounts) layer.outboundNodes.length = Math.min(layer.outboundNodes.length, count);
}

function remember(journal: RewriteJournal, layer: layers.Layer): void {
  if (!journal.inboundCounts.has(layer)) journal.inboundCounts.set(layer, layer.inboundNodes.length);
  if (!journal.outboundCounts.has(layer)) journal.outboundCounts.set(layer, layer.outboundNodes.length);
}

/**
 * Rebuilds a model's graph with some layers swapped, reusing every other layer object (so base
 * weights are shared, never copied) and the model's own input tensors. Nested models that contain
 * a swapped layer are rebuilt the same way. Returns the same model when nothing in it changes.
 */
export function rewriteModel(model: LayersModel, replacements: ReadonlyMap<layers.Layer, layers.Layer>, journal: RewriteJournal = createJournal()): LayersModel {
  const layerMap = new Map<layers.Layer, layers.Layer>();
  for (const layer of model.layers) {
    const replacement = replacements.get(layer) ?? (isLayersModel(layer) ? rewriteModel(layer, replacements, journal) : layer);
    if (replacement !== layer) layerMap.set(layer, replacement);
  }
  if (layerMap.size === 0) return model;

  const memo = new Map<SymbolicTensor, SymbolicTensor>();
  const rebuild = (tensor: SymbolicTensor): SymbolicTensor => {
    const known = memo.get(tensor);
    if (known) return known;
    const layer = tensor.sourceLayer;
    if (layer.getClassName() === 'InputLayer') return tensor;
    const node = layer.inboundNodes[tensor.nodeIndex]!;
    const inputs = node.inputTensors.map(rebuild);
    const target = layerMap.get(layer) ?? layer;
    if (target === layer && inputs.every((input, index) => input === node.inputTensors[index])) {
      for (const output of node.outputTensors) memo.set(output, output);
      return tensor;
    }
    for (const input of inputs) remember(journal, input.sourceLayer);
    remember(journal, target);
    // tfjs counts every symbolic call as one more owner of the layer's weights. The rebuilt graph
    // takes over the old graph's calls rather than adding owners (a layer already called keeps its
    // count; a new wrapper gets its first): otherwise disposing the PEFT model, or the model that
    // unload() returns, would leave every re-applied layer's weights alive.
    const owned = target as unknown as { _refCount: number | null };
    const owners = owned._refCount;
    const applied = target.apply(inputs.length === 1 ? inputs[0]! : inputs, node.callArgs ?? {}) as SymbolicTensor | SymbolicTensor[];
    if (owners !== null) owned._refCount = owners;
    const outputs = Array.isArray(applied) ? applied : [applied];
    node.outputTensors.forEach((output, index) => memo.set(output, outputs[index]!));
    return memo.get(tensor)!;
  };
  const outputs = model.outputs.map(rebuild);
  return tfl.model({ inputs: model.inputs, outputs: outputs.length === 1 ? outputs[0]! : outputs, name: model.name });
}
