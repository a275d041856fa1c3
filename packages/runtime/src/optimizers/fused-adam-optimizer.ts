import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { AdamOptimizer, engine, getBackend, getKernel, mul, serialization, sub, tidy, zerosLike } from '@tensorflow/tfjs-core';

import { FusedAdam } from './fused-adam-kernel-name';

/** What `applyGradients` takes (tfjs-core does not export these two types from its root). */
type NamedTensor = { name: string; tensor: Tensor };
type NamedVariableMap = Record<string, Variable>;
type VariableGradients = NamedVariableMap | Record<string, Tensor> | NamedTensor[];

/** AdamOptimizer's private state, which the fused update reads and writes as tfjs' own update does. */
interface AdamState {
  accBeta1: Variable;
  accBeta2: Variable;
  accumulatedFirstMoment: { originalName: string; variable: Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: Variable }[];
}

export interface FusedAdamOptions {
  /** Default 0.001. */
  learningRate?: number;
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default: the backend's epsilon (1e-7 on float32 backends), as tfjs' Adam. */
  epsilon?: number;
}

export interface FusedAdamWOptions extends FusedAdamOptions {
  /** Decoupled weight decay (AdamW, Loshchilov & Hutter): x ← x - lr·wd·x before the Adam step. Default 0.01. */
  weightDecay?: number;
}

/**
 * tfjs' Adam with one fused update per variable (`PeftjsFusedAdam`: one kernel reading the
 * variable, both moments and the gradient once, instead of ~12 elementwise kernels and their
 * temporaries). Same numbers as `tf.train.adam` (float32, tfjs' order of operations), same state,
 * same `getWeights` / `setWeights` / config, and an `AdamOptimizer` (`instanceof` holds; it saves as
 * `Adam`). On a backend without the kernel (anything but wasm with runtime's fixes) it runs tfjs'
 * own update.
 */
export class FusedAdamOptimizer extends AdamOptimizer {
  /** The decoupled weight decay (0: plain Adam). */
  readonly weightDecay: number;

  constructor(learningRate: number, beta1: number, beta2: number, epsilon?: number, weightDecay = 0) {
    super(learningRate, beta1, beta2, epsilon as number);
    this.weightDecay = weightDecay;
  }

  /** Whether the next update runs fused on the active backend. */
  get fused(): boolean {
    return getKernel(FusedAdam, getBackend()) != null;
  }

  override applyGradients(variableGradients: VariableGradients): void {
    if (!this.fused) {
      this.decayUnfused(variableGradients);
      super.applyGradients(variableGradients as NamedVariableMap | NamedTensor[]);
      return;
    }
    const state = this as unknown as AdamState;
    const names = Array.isArray(variableGradients) ? variableGradients.map((entry) => entry.name) : Object.keys(variableGradients);
    const attrs = {
      learningRate: this.learningRate,
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
      weightDecay: this.weightDecay,
    };
    tidy(() => {
      names.forEach((name, index) => {
        const value = engine().registeredVariables[name];
        state.accumulatedFirstMoment[index] ??= { originalName: `${name}/m`, variable: tidy(() => zerosLike(value).variable(false)) };
        state.accumulatedSecondMoment[index] ??= { originalName: `${name}/v`, variable: tidy(() => zerosLike(value).variable(false)) };
        const gradient = Array.isArray(variableGradients) ? variableGradients[index].tensor : variableGradients[name];
        if (gradient == null) {
          return;
        }
        const first = state.accumulatedFirstMoment[index].variable;
        const second = state.accumulatedSecondMoment[index].variable;
        const [x, m, v] = engine().runKernel(
          FusedAdam,
          { x: value, m: first, v: second, g: gradient, accBeta1: state.accBeta1, accBeta2: state.accBeta2 },
          attrs as never,
        ) as Tensor[];
        first.assign(m);
        second.assign(v);
        value.assign(x);
      });
      state.accBeta1.assign(mul(state.accBeta1, this.beta1));
      state.accBeta2.assign(mul(state.accBeta2, this.beta2));
    });
    this.incrementIterations();
  }

  /** AdamW's decay with tfjs ops, for backends without the fused kernel. */
  private decayUnfused(variableGradients: VariableGradients): void {
    if (this.weightDecay === 0) {
      return;
    }
    const factor = Math.fround(Math.fround(this.learningRate) * Math.fround(this.weightDecay));
    const names = Array.isArray(variableGradients) ? variableGradients.map((entry) => entry.name) : Object.keys(variableGradients);
    tidy(() => {
      names.forEach((name, index) => {
        const gradient = Array.isArray(variableGradients) ? variableGradients[index].tensor : variableGradients[name];
        if (gradient != null) {
          const value = engine().registeredVariables[name];
          value.assign(sub(value, mul(value, factor)));
        }
      });
    });
  }

  override getConfig(): serialization.ConfigDict {
    return this.weightDecay === 0 ? super.getConfig() : { ...super.getConfig(), weightDecay: this.weightDecay };
  }
}

/** AdamW: `FusedAdamOptimizer` with decoupled weight decay; saves as `AdamW`. */
export class FusedAdamWOptimizer extends FusedAdamOptimizer {
  static override get className(): string {
    return 'AdamW';
  }

  static override fromConfig<T extends serialization.Serializable>(cls: serialization.SerializableConstructor<T>, config: serialization.ConfigDict): T {
    return new cls(config.learningRate, config.beta1, config.beta2, config.epsilon, config.weightDecay ?? 0.01);
  }
}
serialization.registerClass(FusedAdamWOptimizer);

/** Adam with the fused per-variable update (`tf.train.adam`'s defaults). */
export function createFusedAdam(options: FusedAdamOptions = {}): FusedAdamOptimizer {
  return new FusedAdamOptimizer(options.learningRate ?? 0.001, options.beta1 ?? 0.9, options.beta2 ?? 0.999, options.epsilon);
}

/** AdamW (decoupled weight decay, default 0.01 as in PyTorch) with the fused per-variable update. */
export function createFusedAdamW(options: FusedAdamWOptions = {}): FusedAdamWOptimizer {
  return new FusedAdamWOptimizer(options.learningRate ?? 0.001, options.beta1 ?? 0.9, options.beta2 ?? 0.999, options.epsilon, options.weightDecay ?? 0.01);
}
