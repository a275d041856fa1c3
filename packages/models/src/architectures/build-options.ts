import type { WeightInit } from './init';

export interface BuildOptions {
  /** 'random' (default): transformers-style init, to train from scratch; 'zeros' when weights are loaded next. */
  init?: WeightInit;
  /** Seed for the random init. */
  seed?: number;
}
