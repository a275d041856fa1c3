import { add, engine, ones, Tensor, util } from '@tensorflow/tfjs-core';

/** The parts of tfjs-core's engine and tape this needs (not exported by tfjs-core). */
interface TapeNode {
  id: number;
  kernelName: string;
  outputs: Tensor[];
  inputs: Record<string, Tensor>;
  gradient?: (dys: Array<Tensor | null>) => Record<string, () => Tensor>;
  saved?: Tensor[];
}

/** A filtered tape node: `inputs` pruned to those that depend on x, `allInputs` as recorded. */
interface FilteredNode extends TapeNode {
  allInputs: Record<string, Tensor>;
}

interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  startTape(): void;
  endTape(): void;
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  tidy<T>(nameOrFn: string | (() => T), fn?: () => T): T;
  gradients(f: () => Tensor, xs: Tensor[], dy?: Tensor, allowNoGradients?: boolean): { value: Tensor; grads: Tensor[] };
  getTensorsForGradient(kernelName: string, inputs: Record<string, Tensor>, outputs: Tensor[]): Tensor[];
}

/**
 * Kernels whose tfjs-core gradient reads only the shapes of the inputs it saves (the names, in
 * the order the gradient expects them). tfjs saves those inputs whole, which keeps every residual
 * branch, LoRA term and reshaped projection alive until the backward pass reaches it; with lean
 * backprop nothing is saved for them and the backward pass hands the gradient the recorded input
 * tensors, whose shapes outlive their data.
 */
const SHAPE_ONLY_INPUTS: Readonly<Record<string, readonly string[]>> = {
  Add: ['a', 'b'],
  Sub: ['a', 'b'],
  Reshape: ['x'],
  ExpandDims: ['input'],
};

/** tfjs-core's getFilteredNodesXToY: the tape nodes on a path from some x to y, inputs pruned to those that depend on x. */
function filteredNodes(tape: readonly TapeNode[], xs: readonly Tensor[], y: Tensor): FilteredNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((input) => fromX.has(input.id))) {
      for (const output of node.outputs) fromX.add(output.id);
      nodesFromX.add(node.id);
    }
  }
  const toY = new Set<number>([y.id]);
  const nodesToY = new Set<number>();
  for (let index = tape.length - 1; index >= 0; index--) {
    const node = tape[index]!;
    if (node.outputs.some((output) => toY.has(output.id))) {
      for (const input of Object.values(node.inputs)) toY.add(input.id);
      nodesToY.add(node.id);
    }
  }
  const result: FilteredNode[] = [];
  for (const node of tape) {
    if (!nodesFromX.has(node.id) || !nodesToY.has(node.id)) continue;
    const inputs: Record<string, Tensor> = {};
    for (const [name, input] of Object.entries(node.inputs)) if (fromX.has(input.id)) inputs[name] = input;
    result.push({ ...node, inputs, outputs: node.outputs, allInputs: node.inputs });
  }
  return result;
}

/**
 * tfjs-core's `Engine.gradients`, with one difference: each tape node's saved tensors and its
 * outputs' gradients are freed as soon as the node has been backpropagated (tfjs-core frees them
 * all after the whole backward pass), so peak memory during the backward pass falls as it goes
 * instead of adding every gradient to every activation. Same arithmetic in the same order.
 * Higher-order gradients (a gradient taken while another is recorded) keep tfjs' behaviour.
 */
function leanGradients(this: EngineInternals, f: () => Tensor, xs: Tensor[], dy?: Tensor, allowNoGradients = false): { value: Tensor; grads: Tensor[] } {
  util.assert(xs.length > 0, () => 'gradients() received an empty list of xs.');
  if (dy != null && dy.dtype !== 'float32') throw new Error(`dy must have 'float32' dtype, but has '${dy.dtype}'`);
  const y = this.scopedRun(
    () => this.startTape(),
    () => this.endTape(),
    () => this.tidy('forward', f),
  );
  util.assert(y instanceof Tensor, () => 'The result y returned by f() must be a tensor.');
  const tape = this.state.activeTape!;
  const filtered = filteredNodes(tape, xs, y);
  if (!allowNoGradients && filtered.length === 0 && xs.length > 0) {
    throw new Error('Cannot compute gradient of y=f(x) with respect to x. Make sure that the f you passed encloses all operations that lead from x to y.');
  }
  const outermost = this.state.gradientDepth === 0;
  return this.tidy('backward', () => {
    const accumulated = new Map<number, Tensor>();
    accumulated.set(y.id, dy ?? ones(y.shape));
    const wanted = new Set(xs.map((x) => x.id));
    for (let index = filtered.length - 1; index >= 0; index--) {
      const node = filtered[index]!;
      const dys = node.outputs.map((output) => accumulated.get(output.id) ?? null);
      if (node.gradient == null) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
      // One tidy around the whole gradient: a custom gradient (tf.customGrad) computes its result
      // when called, and tfjs-core leaves the intermediates of that call (recomputed attention
      // probabilities, normalisation statistics…) alive until the whole backward pass ends.
      const inputGradients = this.tidy(() => {
        const functions = shapeOnlyGradient(node, dys as Tensor[]) ?? node.gradient!(dys as Tensor[]);
        const computed: Record<string, Tensor> = {};
        for (const inputName in node.inputs) {
          if (!(inputName in functions)) throw new Error(`Cannot backprop through input ${inputName}. Available gradients found: ${Object.keys(functions)}.`);
          computed[inputName] = functions[inputName]!();
        }
        return computed;
      });
      for (const inputName in node.inputs) {
        const dx = inputGradients[inputName]!;
        if (dx.dtype !== 'float32')
          throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input ${inputName} must have 'float32' dtype, but has '${dx.dtype}'`);
        const x = node.inputs[inputName]!;
        if (!util.arraysEqual(dx.shape, x.shape)) {
          throw new Error(
            `Error in gradient for op ${node.kernelName}. The gradient of input '${inputName}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`,
          );
        }
        const current = accumulated.get(x.id);
        if (current == null) {
          accumulated.set(x.id, dx);
        } else {
          accumulated.set(
            x.id,
            this.tidy(() => add(current, dx)),
          );
          current.dispose();
          if (outermost && dx !== dy && !isStillUsed(accumulated, dx)) dx.dispose();
        }
      }
      if (!outermost) continue;
      // This node is done: nothing reads its outputs' gradients or its saved tensors again.
      for (const output of node.outputs) {
        const gradient = accumulated.get(output.id);
        if (!gradient || wanted.has(output.id)) continue;
        accumulated.delete(output.id);
        if (gradient !== dy && !isStillUsed(accumulated, gradient)) gradient.dispose();
      }
      for (const tensor of node.saved ?? []) tensor.dispose();
    }
    const grads = xs.map((x) => accumulated.get(x.id)!);
    if (this.state.gradientDepth === 0) {
      for (const node of tape) for (const tensor of node.saved ?? []) tensor.dispose();
      this.state.activeTape = null;
    }
    return { value: y, grads };
  });
}

/**
 * The gradient of a node whose saved inputs were left out (`SHAPE_ONLY_INPUTS`): the recorded
 * inputs stand in for them for the length of the call (only their shapes are read), then the
 * node's saved list is emptied again so that nothing disposes them. Undefined for other nodes.
 */
function shapeOnlyGradient(node: FilteredNode, dys: Tensor[]): Record<string, () => Tensor> | undefined {
  const names = SHAPE_ONLY_INPUTS[node.kernelName];
  const saved = node.saved;
  if (!names || !saved || saved.length > 0 || !names.every((name) => node.allInputs[name] !== undefined)) return undefined;
  saved.push(...names.map((name) => node.allInputs[name]!));
  try {
    return node.gradient!(dys);
  } finally {
    saved.length = 0;
  }
}

/** tfjs-core's `getTensorsForGradient`, saving nothing for the shape-only kernels. */
function leanTensorsForGradient(this: EngineInternals, kernelName: string, inputs: Record<string, Tensor>, outputs: Tensor[]): Tensor[] {
  if (SHAPE_ONLY_INPUTS[kernelName]) return [];
  return state.originalTensorsForGradient!.call(this, kernelName, inputs, outputs);
}

/** Whether a gradient tensor is also another tensor's gradient (a gradient function may pass dy through). */
function isStillUsed(accumulated: ReadonlyMap<number, Tensor>, tensor: Tensor): boolean {
  for (const value of accumulated.values()) if (value === tensor) return true;
  return false;
}

const state = ((globalThis as Record<symbol, unknown>)[Symbol.for('peftjs.runtime.leanBackprop')] ??= {}) as {
  original?: EngineInternals['gradients'];
  originalTensorsForGradient?: EngineInternals['getTensorsForGradient'];
};

/**
 * Frees tape entries as soon as the backward pass has consumed them (see `leanGradients`), and
 * saves nothing for kernels whose gradient needs only shapes (`SHAPE_ONLY_INPUTS`). Idempotent.
 * Record and backpropagate with the same setting: a tape recorded lean needs the lean backward pass.
 */
export function enableLeanBackprop(): void {
  const current = engine() as unknown as EngineInternals;
  if (current.gradients === (leanGradients as EngineInternals['gradients'])) return;
  state.original = current.gradients;
  state.originalTensorsForGradient = current.getTensorsForGradient;
  current.gradients = leanGradients as EngineInternals['gradients'];
  current.getTensorsForGradient = leanTensorsForGradient;
}

/** Puts tfjs-core's own `gradients` back. */
export function disableLeanBackprop(): void {
  const current = engine() as unknown as EngineInternals;
  if (current.gradients === (leanGradients as EngineInternals['gradients']) && state.original) current.gradients = state.original;
  if (current.getTensorsForGradient === leanTensorsForGradient && state.originalTensorsForGradient) current.getTensorsForGradient = state.originalTensorsForGradient;
}

export function isLeanBackpropEnabled(): boolean {
  return (engine() as unknown as EngineInternals).gradients === (leanGradients as EngineInternals['gradients']);
}
