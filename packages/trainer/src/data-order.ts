import { createSeededRandom, shuffled, streamSeed, STREAM_SHUFFLE } from './seeded-random';

/**
 * Which rows each micro-batch takes. Every epoch is an ordering of the rows (file order, or a
 * seeded shuffle drawn from (seed, epoch)), cut into micro-batches of `batchSize` (the last one
 * of an epoch may be smaller, as HF's DataLoader keeps it). Micro-batches are numbered over the
 * whole run, so the data position of a run is one number.
 */
export class DataOrder {
  readonly rows: number;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  private cachedEpoch = -1;
  private cachedOrder: number[] = [];

  constructor(options: { rows: number; batchSize: number; shuffle: boolean; seed: number }) {
    this.rows = options.rows;
    this.batchSize = options.batchSize;
    this.shuffle = options.shuffle;
    this.seed = options.seed;
  }

  /** Micro-batches per epoch (HF's len(train_dataloader)). */
  get batchesPerEpoch(): number {
    return Math.ceil(this.rows / this.batchSize);
  }

  epochOrder(epoch: number): number[] {
    if (epoch !== this.cachedEpoch) {
      const identity = Array.from({ length: this.rows }, (_, index) => index);
      this.cachedOrder = this.shuffle ? shuffled(identity, createSeededRandom(streamSeed(this.seed, STREAM_SHUFFLE, epoch))) : identity;
      this.cachedEpoch = epoch;
    }
    return this.cachedOrder;
  }

  /** The row indices of micro-batch `microBatch` (0-based over the run). */
  microBatch(microBatch: number): number[] {
    const epoch = Math.floor(microBatch / this.batchesPerEpoch);
    const within = microBatch - epoch * this.batchesPerEpoch;
    return this.epochOrder(epoch).slice(within * this.batchSize, (within + 1) * this.batchSize);
  }

  /** The fractional epoch after `microBatches` micro-batches (HF's logged `epoch`). */
  epochAt(microBatches: number): number {
    return microBatches / this.batchesPerEpoch;
  }
}
