import * as tf from '@tensorflow/tfjs-core';
import type { LayerVariable } from '@tensorflow/tfjs-layers';

/** Whether a gradient tape is recording (tfjs' engine state; not part of its typed API). */
function recordingGradients(): boolean {
  return ((tf.engine() as unknown as { state?: { gradientDepth?: number } }).state?.gradientDepth ?? 0) > 0;
}

/**
 * Tensors derived from one variable (a layer's rotation blocks), kept while the variable holds
 * the same data. Outside training and gradient tapes OFT and BOFT would otherwise rebuild their
 * Cayley transforms on every forward. A write to the variable gives it new data, which misses.
 * Values handed out are owned by the cache: callers never dispose them.
 */
export class InferenceCache {
  private readonly entries = new Map<string, { source: unknown; value: tf.Tensor }>();

  /** Whether `get` may reuse or store values now (not training, no tape recording). */
  static usable(training: boolean): boolean {
    return !training && !recordingGradients();
  }

  /** The cached value for `key` while `variable` is unchanged; `compute` otherwise (kept). */
  get<T extends tf.Tensor>(key: string, variable: LayerVariable, compute: () => T): T {
    const source = (variable.read() as unknown as { dataId: unknown }).dataId;
    const entry = this.entries.get(key);
    if (entry && entry.source === source) return entry.value as T;
    const value = tf.keep(compute());
    entry?.value.dispose();
    this.entries.set(key, { source, value });
    return value;
  }

  delete(key: string): void {
    this.entries.get(key)?.value.dispose();
    this.entries.delete(key);
  }
}
