import type { LrSchedulerType } from './training-arguments';

/** transformers' get_scheduler multipliers (torch LambdaLR), in float64 as Python computes them. */
export function learningRateMultiplier(type: LrSchedulerType, step: number, warmupSteps: number, totalSteps: number): number {
  const warmup = () => step / Math.max(1, warmupSteps);
  switch (type) {
    case 'constant':
      return 1;
    case 'constant_with_warmup':
      return step < warmupSteps ? warmup() : 1;
    case 'linear':
      return step < warmupSteps ? warmup() : Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
    case 'cosine': {
      if (step < warmupSteps) return warmup();
      const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
      // num_cycles 0.5: half a cosine wave, from 1 down to 0.
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * 0.5 * 2 * progress)));
    }
  }
}

/** HF's get_warmup_steps: warmup_steps when > 0, else ceil(warmup_ratio × total steps). */
export function warmupStepsOf(warmupSteps: number, warmupRatio: number, totalSteps: number): number {
  return warmupSteps > 0 ? warmupSteps : Math.ceil(totalSteps * warmupRatio);
}

/**
 * The learning rate optimizer step `step` (1-based) runs with: `lr × lambda(step - 1)`. LambdaLR
 * sets `lr × lambda(0)` when built and is stepped after each optimizer step, so with warm-up the
 * first step runs at lr 0.
 */
export function learningRateAt(baseLearningRate: number, type: LrSchedulerType, step: number, warmupSteps: number, totalSteps: number): number {
  return baseLearningRate * learningRateMultiplier(type, step - 1, warmupSteps, totalSteps);
}
