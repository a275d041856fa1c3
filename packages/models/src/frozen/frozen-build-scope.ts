import type { FrozenWeight } from './frozen-weight';

/** What a layer factory asks for: the layer's name and how its weight is used. */
export interface FrozenWeightRequest {
  /** The layer's name (transformers' module path, e.g. `model.layers.0.mlp.up_proj`). */
  readonly name: string;
  /** `linear`: torch Linear weight `[out, in]`; `conv1d`: GPT-2 Conv1D `[in, out]`; `embedding`: `[vocab, dim]`. */
  readonly kind: 'linear' | 'conv1d' | 'embedding';
  /** Output features (linear, conv1d) or the table's rows (embedding). */
  readonly units: number;
}

/** Supplies store-backed weights while a model is built, or undefined to build a layer as usual. */
export interface FrozenWeightProvider {
  weightFor(request: FrozenWeightRequest): FrozenWeight | undefined;
}

let current: FrozenWeightProvider | undefined;

/**
 * Builds a model with its base weights in a frozen-weight store: while `build` runs, the layer
 * factories (`linear`, `gpt2Conv1D`, `embedding`) ask `provider` for each layer's weight and make a
 * store-backed layer when it has one. A scope rather than a build option, so that every
 * architecture gets it through the factories it already calls.
 */
export function buildWithFrozenWeights<T>(provider: FrozenWeightProvider, build: () => T): T {
  const previous = current;
  current = provider;
  try {
    return build();
  } finally {
    current = previous;
  }
}

/** The store-backed weight for a layer being built, if the current build has one. */
export function frozenWeightFor(request: FrozenWeightRequest): FrozenWeight | undefined {
  return current?.weightFor(request);
}
