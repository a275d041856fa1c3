import * as tf from '@tensorflow/tfjs-core';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import { AdapterStateError, InvalidConfigError } from '@peftjs/core';
import type { AdaLoraConfig } from './adalora-config';
import type { AdaLoraDense } from './adalora-layer';

/** One AdaLoRA layer of a model, with its module path. */
export interface AdaLoraLayerEntry {
  readonly path: string;
  readonly layer: AdaLoraDense;
}

/** A variable's gradient, looked up by the variable. */
export type GradientLookup = (variable: LayerVariable) => tf.Tensor | undefined;

/** The budget (number of kept triplets over the model) at a step, and whether to mask at it. */
export interface BudgetStep {
  budget: number;
  maskIndicator: boolean;
}

/**
 * PEFT's RankAllocator: a smoothed sensitivity |θ·∇θ| (β1) and its uncertainty (β2) per entry of
 * every lora_A / lora_E / lora_B, a cubic budget schedule from `init_r` triplets per layer down to
 * `target_r` (warm-up `tinit`, final fine-tuning `tfinal`, masking every `deltaT` steps), and the
 * masking that zeroes the lora_E entries of the least important triplets. All tensor work happens
 * synchronously, so it can run while the step's gradients are still alive.
 */
export class RankAllocator {
  readonly initBudget: number;
  readonly targetBudget: number;
  private readonly expAvgImportance = new Map<string, tf.Tensor>();
  private readonly expAvgUncertainty = new Map<string, tf.Tensor>();
  /** The latest kept-triplet mask `[r, 1]` (1 = kept) per layer path. */
  private readonly masks = new Map<string, tf.Tensor>();
  /** Bumped by every allocation, so a late read of an older mask never overwrites a newer one. */
  allocation = 0;

  constructor(
    readonly config: AdaLoraConfig,
    readonly adapterName: string,
    layers: readonly AdaLoraLayerEntry[],
  ) {
    this.initBudget = layers.reduce((total, { layer }) => total + layer.triplets(adapterName).a.shape[0]!, 0);
    this.targetBudget = config.targetR * layers.length;
  }

  private totalStep(): number {
    const totalStep = this.config.totalStep;
    if (totalStep === null) {
      throw new InvalidConfigError("AdaLoRA's rank allocation needs total_step (the number of training steps); set total_step in the AdaLoRA config", { field: 'total_step' });
    }
    return totalStep;
  }

  /** PEFT's budget_schedule. */
  budgetSchedule(step: number): BudgetStep {
    const { tinit, tfinal, deltaT } = this.config;
    const totalStep = this.totalStep();
    if (step <= tinit) return { budget: this.initBudget, maskIndicator: false };
    if (step > totalStep - tfinal) return { budget: this.targetBudget, maskIndicator: true };
    const coefficient = 1 - (step - tinit) / (totalStep - tfinal - tinit);
    const budget = Math.trunc((this.initBudget - this.targetBudget) * coefficient ** 3 + this.targetBudget);
    return { budget, maskIndicator: step % deltaT === 0 };
  }

  /** The step at which the final allocation happens (`total_step - tfinal`). */
  get finalStep(): number {
    return this.totalStep() - this.config.tfinal;
  }

  /** PEFT's update_ipt: the sensitivity EMA and its uncertainty for every entry of every triplet. */
  updateImportance(layers: readonly AdaLoraLayerEntry[], gradientOf: GradientLookup): void {
    const { beta1, beta2 } = this.config;
    const updates: Array<{ key: string; importance: tf.Tensor; uncertainty: tf.Tensor }> = [];
    for (const { path, layer } of layers) {
      const { a, e, b } = layer.triplets(this.adapterName);
      for (const [name, variable] of [
        ['lora_A', a],
        ['lora_B', b],
        ['lora_E', e],
      ] as const) {
        const gradient = gradientOf(variable);
        if (!gradient) {
          throw new AdapterStateError(
            `AdaLoRA's rank allocation has no gradient for "${path}.${name}.${this.adapterName}" (variable ${variable.name}); pass the gradients of every trainable variable of the step`,
          );
        }
        const key = `${path}.${name}`;
        const [importance, uncertainty] = tf.tidy(() => {
          const sensitivity = tf.abs(tf.mul(variable.read(), gradient));
          const previousImportance = this.expAvgImportance.get(key);
          const previousUncertainty = this.expAvgUncertainty.get(key);
          const importance = tf.add(previousImportance ? tf.mul(previousImportance, beta1) : tf.zerosLike(sensitivity), tf.mul(sensitivity, 1 - beta1));
          const deviation = tf.mul(tf.abs(tf.sub(sensitivity, importance)), 1 - beta2);
          const uncertainty = tf.add(previousUncertainty ? tf.mul(previousUncertainty, beta2) : tf.zerosLike(sensitivity), deviation);
          return [importance, uncertainty];
        });
        updates.push({ key, importance: importance!, uncertainty: uncertainty! });
      }
    }
    for (const { key, importance, uncertainty } of updates) {
      this.expAvgImportance.get(key)?.dispose();
      this.expAvgUncertainty.get(key)?.dispose();
      this.expAvgImportance.set(key, importance);
      this.expAvgUncertainty.set(key, uncertainty);
    }
  }

  private score(key: string): tf.Tensor {
    const importance = this.expAvgImportance.get(key);
    const uncertainty = this.expAvgUncertainty.get(key);
    if (!importance || !uncertainty) {
      throw new AdapterStateError(
        `AdaLoRA's rank allocation has no importance score for "${key}" yet: it needs at least one step before total_step - tfinal (tinit, tfinal and total_step leave none)`,
      );
    }
    return tf.mul(importance, uncertainty);
  }

  /**
   * PEFT's mask_to_budget: each triplet scores s(E) + mean s(A row) + mean s(B column); every
   * triplet at or below the (initial budget − budget)-th smallest score has its lora_E zeroed.
   * Returns the kept mask `[r]` (bool) per layer; the caller disposes them.
   */
  maskToBudget(layers: readonly AdaLoraLayerEntry[], budget: number): Array<{ entry: AdaLoraLayerEntry; kept: tf.Tensor1D }> {
    this.allocation += 1;
    const scores = layers.map(({ path }) =>
      tf.tidy(() => {
        const valueScore = tf.reshape(this.score(`${path}.lora_E`), [-1]);
        const rowScore = tf.mean(this.score(`${path}.lora_A`), 1);
        const columnScore = tf.mean(this.score(`${path}.lora_B`), 0);
        return tf.add(valueScore, tf.add(rowScore, columnScore)) as tf.Tensor1D;
      }),
    );
    const rank = this.initBudget - budget;
    const threshold = tf.tidy(() => {
      if (rank <= 0) return tf.scalar(Number.NEGATIVE_INFINITY);
      // torch.kthvalue(all, k): the k-th smallest score.
      const smallest = tf.topk(tf.neg(tf.concat(scores)), rank).values;
      return tf.neg(tf.reshape(tf.slice(smallest, [rank - 1], [1]), []));
    });
    const result = layers.map((entry, index) => {
      const kept = tf.tidy(() => tf.greater(scores[index]!, threshold)) as tf.Tensor1D;
      this.applyMask(entry, kept);
      return { entry, kept };
    });
    tf.dispose([...scores, threshold]);
    return result;
  }

  /** Zeroes the pruned lora_E entries and remembers the mask for the final phase. */
  private applyMask({ path, layer }: AdaLoraLayerEntry, kept: tf.Tensor1D): void {
    const { e } = layer.triplets(this.adapterName);
    const mask = tf.tidy(() => tf.reshape(tf.cast(kept, 'float32'), [-1, 1]));
    const masked = tf.tidy(() => tf.mul(e.read(), mask));
    e.write(masked);
    masked.dispose();
    this.masks.get(path)?.dispose();
    this.masks.set(path, mask);
  }

  /** PEFT's mask_using_rank_pattern: after the final allocation every step re-zeroes the pruned lora_E entries. */
  maskWithFinalPattern(layers: readonly AdaLoraLayerEntry[]): void {
    for (const { path, layer } of layers) {
      let mask = this.masks.get(path);
      if (!mask) {
        // Continuing from a loaded adapter: its rank_pattern is the final one.
        const pattern = layer.rankMask(this.adapterName);
        if (!pattern) continue;
        mask = tf.tensor2d(
          pattern.map((kept) => (kept ? 1 : 0)),
          [pattern.length, 1],
        );
        this.masks.set(path, mask);
      }
      const { e } = layer.triplets(this.adapterName);
      const masked = tf.tidy(() => tf.mul(e.read(), mask!));
      e.write(masked);
      masked.dispose();
    }
  }

  /** PEFT's reset_ipt: drops the sensitivity statistics. */
  resetImportance(): void {
    tf.dispose([...this.expAvgImportance.values(), ...this.expAvgUncertainty.values()]);
    this.expAvgImportance.clear();
    this.expAvgUncertainty.clear();
  }

  /** Frees every tensor the allocator holds. */
  dispose(): void {
    this.resetImportance();
    tf.dispose([...this.masks.values()]);
    this.masks.clear();
  }
}
