import type { LayersModel } from '@tensorflow/tfjs-layers';

/**
 * What an adapter does to autoregressive generation, for the decode loop to follow. PEFT's
 * prompt methods put virtual positions before the prompt on the first step only: as input
 * embeddings ('embeddings': the first step's sequence grows by `numVirtualTokens`) or as a
 * key/value prefix ('cachePrefix': the cache starts `numVirtualTokens` long). Later steps feed one
 * token and the cache already holds them. Positions follow PEFT: the virtual tokens count, and a
 * step's position ids are the past length plus `arange(new)`.
 */
export interface GenerationPlan {
  readonly kind: 'embeddings' | 'cachePrefix';
  readonly numVirtualTokens: number;
  /** Runs the forward pass of a step after the first, with the tuner's layers adding no virtual positions again. */
  laterStep<T>(forward: () => T): T;
}

/** Generation hooks of a tuner (optional): a decode loop asks them how the model's active adapter generates. */
export interface TunerGenerationHooks {
  /**
   * The plan for generating with `model` (a rewritten model holding this tuner's layers) as its
   * adapters are now; undefined when the adapter changes nothing about generation (disabled, none active).
   */
  plan(model: LayersModel): GenerationPlan | undefined;
}
