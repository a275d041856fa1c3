import * as tf from '@tensorflow/tfjs-core';
import type { layers, LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { checkpointed } from './checkpoint';

type GraphNode = layers.Layer['inboundNodes'][number];

export interface RunModelGraphOptions {
  /** Passed to every layer's call as `training` (dropout and adapters read it). */
  training?: boolean;
  /**
   * Recompute each decoder layer in the backward pass instead of keeping its activations: only
   * the tensors entering a layer are kept for the gradient (transformers' gradient checkpointing).
   */
  gradientCheckpointing?: boolean;
  /** Stop at these graph tensors instead of the model's outputs (the input of the LM head, say). */
  outputs?: readonly SymbolicTensor[];
}

/**
 * The decoder layer a graph layer belongs to: its name up to the first numbered path component
 * (`model.layers.3.self_attn.q_proj` → `model.layers.3`, `transformer.h.0.mlp.c_fc` →
 * `transformer.h.0`, `model.layers.3-attn_residual` → `model.layers.3`), or null for layers outside the repeated blocks (embeddings, final norm).
 */
export function decoderLayerOf(layerName: string): string | null {
  // Glue layers (residual adds, the attention core) are named `<module>-<role>`.
  const match = /^(.*?\.\d+)(?=[.-]|$)/.exec(layerName);
  return match ? match[1]! : null;
}

interface Unit {
  key: string;
  nodes: GraphNode[];
}

/**
 * Runs a functional LayersModel's graph node by node, as `model.apply` does, but can stop at
 * inner tensors and can run each decoder layer as one checkpointed unit. Layers are shared with
 * the model (weights are read, never copied), so adapters injected into the model take part.
 */
export function runModelGraph(model: LayersModel, inputs: readonly tf.Tensor[], options: RunModelGraphOptions = {}): tf.Tensor[] {
  const targets = options.outputs ?? model.outputs;
  const training = options.training ?? false;
  if (inputs.length !== model.inputs.length) throw new Error(`runModelGraph: ${model.name} takes ${model.inputs.length} inputs, got ${inputs.length}`);
  const values = new Map<number, tf.Tensor>();
  model.inputs.forEach((input, index) => values.set(input.id, inputs[index]!));

  // Nodes in dependency order, each once (depth-first from the wanted tensors).
  const order: GraphNode[] = [];
  const visited = new Set<GraphNode>();
  const nodeOf = (tensor: SymbolicTensor): GraphNode | null => (values.has(tensor.id) ? null : tensor.sourceLayer.inboundNodes[tensor.nodeIndex]!);
  const visit = (tensor: SymbolicTensor) => {
    const node = nodeOf(tensor);
    if (!node || visited.has(node)) return;
    visited.add(node);
    for (const input of node.inputTensors) visit(input);
    order.push(node);
  };
  for (const target of targets) visit(target);

  const callNode = (node: GraphNode, read: (tensor: SymbolicTensor) => tf.Tensor): tf.Tensor[] => {
    const args = node.inputTensors.map(read);
    const kwargs = { ...(node.callArgs ?? {}), training };
    const output = node.outboundLayer.call(args.length === 1 ? args[0]! : args, kwargs);
    return Array.isArray(output) ? output : [output];
  };
  const readValue = (tensor: SymbolicTensor): tf.Tensor => {
    const value = values.get(tensor.id);
    if (!value) throw new Error(`runModelGraph: ${tensor.name} was not computed`);
    return value;
  };
  const runNode = (node: GraphNode) => {
    const outputs = callNode(node, readValue);
    node.outputTensors.forEach((tensor, index) => values.set(tensor.id, outputs[index]!));
  };

  if (!options.gradientCheckpointing) {
    for (const node of order) runNode(node);
    return targets.map(readValue);
  }

  // Group each decoder layer's nodes into one unit; a unit runs once all its outside inputs exist.
  const units: Unit[] = [];
  const unitByKey = new Map<string, Unit>();
  for (const node of order) {
    const key = decoderLayerOf(node.outboundLayer.name);
    if (key === null) {
      units.push({ key: '', nodes: [node] });
      continue;
    }
    let unit = unitByKey.get(key);
    if (!unit) {
      unit = { key, nodes: [] };
      unitByKey.set(key, unit);
      units.push(unit);
    }
    unit.nodes.push(node);
  }
  const pending = [...units];
  const wanted = new Set(targets.map((tensor) => tensor.id));
  while (pending.length > 0) {
    const index = pending.findIndex((unit) => externalInputs(unit).every((tensor) => values.has(tensor.id)));
    if (index < 0) throw new Error(`runModelGraph: the graph of ${model.name} cannot be split into decoder layers for gradient checkpointing`);
    const [unit] = pending.splice(index, 1);
    if (unit!.key === '') {
      runNode(unit!.nodes[0]!);
      continue;
    }
    runUnit(unit!, pending, wanted, values, callNode, runNode);
  }
  return targets.map(readValue);
}

function externalInputs(unit: Unit): SymbolicTensor[] {
  const inside = new Set<number>();
  for (const node of unit.nodes) for (const tensor of node.outputTensors) inside.add(tensor.id);
  const seen = new Set<number>();
  const result: SymbolicTensor[] = [];
  for (const node of unit.nodes) {
    for (const tensor of node.inputTensors) {
      if (inside.has(tensor.id) || seen.has(tensor.id)) continue;
      seen.add(tensor.id);
      result.push(tensor);
    }
  }
  return result;
}

function runUnit(
  unit: Unit,
  pending: readonly Unit[],
  wanted: ReadonlySet<number>,
  values: Map<number, tf.Tensor>,
  callNode: (node: GraphNode, read: (tensor: SymbolicTensor) => tf.Tensor) => tf.Tensor[],
  runNode: (node: GraphNode) => void,
): void {
  const used = new Set<number>(wanted);
  for (const other of pending) for (const tensor of externalInputs(other)) used.add(tensor.id);
  const leaving = unit.nodes.flatMap((node) => node.outputTensors).filter((tensor) => used.has(tensor.id));
  if (leaving.length !== 1) {
    // Only a layer with one output tensor can be one checkpointed op; run the rest as usual.
    for (const node of unit.nodes) runNode(node);
    return;
  }
  const entering = externalInputs(unit);
  const variables: tf.Variable[] = [];
  const seenVariables = new Set<number>();
  for (const node of unit.nodes) {
    for (const weight of node.outboundLayer.trainableWeights) {
      const variable = weight.read() as tf.Variable;
      if (!seenVariables.has(variable.id)) {
        seenVariables.add(variable.id);
        variables.push(variable);
      }
    }
  }
  const forward = (inputs: readonly tf.Tensor[]): tf.Tensor => {
    const local = new Map<number, tf.Tensor>();
    entering.forEach((tensor, index) => local.set(tensor.id, inputs[index]!));
    for (const node of unit.nodes) {
      const outputs = callNode(node, (tensor) => local.get(tensor.id)!);
      node.outputTensors.forEach((tensor, index) => local.set(tensor.id, outputs[index]!));
    }
    return local.get(leaving[0]!.id)!;
  };
  values.set(
    leaving[0]!.id,
    checkpointed(
      forward,
      entering.map((tensor) => values.get(tensor.id)!),
      variables,
    ),
  );
}
