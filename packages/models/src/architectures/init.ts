import { initializers } from '@tensorflow/tfjs-layers';

/** How a freshly built model's weights start: random (transformers' normal(0, initializer_range)) or zeros, for weights loaded right after. */
export type WeightInit = 'random' | 'zeros';

type Initializer = ReturnType<typeof initializers.zeros>;

/** Initializer factories: each call returns a new one (with its own seed when seeded). */
export interface Initializers {
  /** Linear kernels and embeddings. */
  normal(): Initializer;
  /** Biases. */
  zeros(): Initializer;
  /** Norm weights. */
  ones(): Initializer;
  /** 'ones' or 'zeros', for layers that take an initializer name. */
  readonly onesName: 'ones' | 'zeros';
}

export function makeInitializers(mode: WeightInit, initializerRange: number, seed?: number): Initializers {
  if (mode === 'zeros') {
    return { normal: () => initializers.zeros(), zeros: () => initializers.zeros(), ones: () => initializers.zeros(), onesName: 'zeros' };
  }
  let next = seed;
  return {
    normal: () => initializers.randomNormal({ mean: 0, stddev: initializerRange, seed: next === undefined ? undefined : next++ }),
    zeros: () => initializers.zeros(),
    ones: () => initializers.ones(),
    onesName: 'ones',
  };
}

/** Joins a module-path prefix and a name: `join('transformer', 'h.0')` → `transformer.h.0`. */
export function join(prefix: string, name: string): string {
  return prefix ? `${prefix}.${name}` : name;
}

/**
 * The name of a layer that has no transformers module of its own (a residual add, the attention
 * core, the mask): the parent module path, a hyphen, a role. A hyphen never occurs in a
 * transformers module path, so these names can neither collide with one nor match a
 * `target_modules` entry.
 */
export function glue(parent: string, role: string): string {
  return `${parent || 'root'}-${role}`;
}
