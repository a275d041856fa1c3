import type { OptimizerName } from './training-arguments';

const f = Math.fround;

/** One trainable tensor as the optimizer sees it: flat float32 values, its gradient, its decay. */
export interface OptimizerEntry {
  readonly key: string;
  /** Updated in place. */
  readonly values: Float32Array;
  readonly gradient: Float32Array;
  readonly weightDecay: number;
}

export interface OptimizerSettings {
  readonly name: OptimizerName;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
}

/** Adam's running moments of one tensor (torch's `exp_avg`, `exp_avg_sq`). */
export interface Moments {
  readonly expAvg: Float32Array;
  readonly expAvgSq: Float32Array;
}

export interface OptimizerState {
  /** Optimizer steps taken (torch's `state["step"]`, the same for every tensor). */
  step: number;
  moments: Map<string, Moments>;
}

/**
 * torch.optim.AdamW / Adam / SGD (torch 1.13, single-tensor path, amsgrad off, no momentum) on
 * float32 arrays, one float32 rounding per tensor op in torch's order, scalars in float64 as
 * Python computes them. Element-wise, so the layout of a tensor does not matter.
 */
export class TorchOptimizer {
  readonly settings: OptimizerSettings;
  state: OptimizerState = { step: 0, moments: new Map() };

  constructor(settings: OptimizerSettings) {
    this.settings = settings;
  }

  /** Whether the optimizer keeps moments (Adam and AdamW do, SGD does not). */
  get hasMoments(): boolean {
    return this.settings.name !== 'sgd';
  }

  step(entries: readonly OptimizerEntry[], learningRate: number): void {
    this.state.step += 1;
    const t = this.state.step;
    for (const entry of entries) {
      if (this.settings.name === 'sgd') this.sgd(entry, learningRate);
      else this.adam(entry, learningRate, t);
    }
  }

  private moments(entry: OptimizerEntry): Moments {
    let moments = this.state.moments.get(entry.key);
    if (!moments) {
      moments = { expAvg: new Float32Array(entry.values.length), expAvgSq: new Float32Array(entry.values.length) };
      this.state.moments.set(entry.key, moments);
    }
    return moments;
  }

  private adam(entry: OptimizerEntry, lr: number, t: number): void {
    const { beta1, beta2, epsilon } = this.settings;
    const { values: p, gradient } = entry;
    const { expAvg: m, expAvgSq: v } = this.moments(entry);
    const decoupled = this.settings.name === 'adamw';
    const decay = f(1 - lr * entry.weightDecay);
    const wd = f(entry.weightDecay);
    const b1 = f(beta1);
    const b2 = f(beta2);
    const oneMinusB1 = f(1 - beta1);
    const oneMinusB2 = f(1 - beta2);
    const biasCorrection1 = 1 - beta1 ** t;
    const biasCorrection2 = 1 - beta2 ** t;
    const negStepSize = f(-(lr / biasCorrection1));
    const bc2Sqrt = f(Math.sqrt(biasCorrection2));
    const eps = f(epsilon);
    for (let index = 0; index < p.length; index++) {
      let g = gradient[index]!;
      // AdamW decays the parameter first (with this step's lr); Adam adds the L2 term to the gradient.
      if (decoupled) p[index] = f(p[index]! * decay);
      else if (entry.weightDecay !== 0) g = f(g + f(p[index]! * wd));
      m[index] = f(f(m[index]! * b1) + f(g * oneMinusB1));
      v[index] = f(f(v[index]! * b2) + f(f(g * oneMinusB2) * g));
      const denom = f(f(f(Math.sqrt(v[index]!)) / bc2Sqrt) + eps);
      p[index] = f(p[index]! + f(negStepSize * f(m[index]! / denom)));
    }
  }

  private sgd(entry: OptimizerEntry, lr: number): void {
    const { values: p, gradient } = entry;
    const wd = f(entry.weightDecay);
    const negLr = f(-lr);
    for (let index = 0; index < p.length; index++) {
      const g = entry.weightDecay !== 0 ? f(gradient[index]! + f(p[index]! * wd)) : gradient[index]!;
      p[index] = f(p[index]! + f(g * negLr));
    }
  }
}
