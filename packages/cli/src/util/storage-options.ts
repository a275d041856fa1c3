import type { Command } from 'commander';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import {
  assertFits,
  estimateTrainingMemory,
  FROZEN_DTYPES,
  isWasmOutOfMemory,
  MemoryBudgetError,
  QUANTIZATIONS,
  WASM_HEAP_LIMIT,
  formatBytes,
  type FrozenDtype,
  type Quantization,
} from '@peftjs/models';
import { option } from './options';

/** How the base model's frozen weights are stored, as `fromPretrained` takes it. */
export interface StorageFlags {
  dtype?: FrozenDtype;
  quantization?: Quantization;
  doubleQuant?: boolean;
}

/**
 * Adds --dtype, --quantization and --double-quant: the base model's frozen weights in a store
 * outside the wasm heap, in that precision (computation stays float32). `dtype: false` leaves
 * --dtype to the command (merge has its own).
 */
export function storageOptions(command: Command, settings: { dtype?: boolean } = {}): Command {
  if (settings.dtype !== false) {
    option(command, '--dtype <dtype>', `store the base model's frozen weights as ${FROZEN_DTYPES.join(', ')} (outside the wasm heap; compute stays float32)`, undefined, {
      choices: [...FROZEN_DTYPES],
      defaultText: 'float32 tfjs variables, unless --quantization is given',
    });
  }
  option(
    command,
    '--quantization <type>',
    `quantise the frozen base weights: ${QUANTIZATIONS.join(', ')} (bitsandbytes' int8 per-channel, 4-bit NF4/FP4 blocks of 64)`,
    undefined,
    {
      choices: [...QUANTIZATIONS],
      defaultText: 'none',
    },
  );
  option(command, '--double-quant', '4-bit: double-quantise the block absmax (bnb_4bit_use_double_quant)', undefined, { defaultText: 'off' });
  return command;
}

/** The flags as fromPretrained options (empty when none was given: today's float32 tfjs variables). */
export function storageFromFlags(options: Record<string, unknown>, override?: { dtype: string | undefined }): StorageFlags {
  const dtype = override ? override.dtype : options.dtype;
  const flags: StorageFlags = {};
  if (typeof dtype === 'string') flags.dtype = dtype as FrozenDtype;
  if (typeof options.quantization === 'string') flags.quantization = options.quantization as Quantization;
  if (options.doubleQuant === true) flags.doubleQuant = true;
  return flags;
}

/** Refuses a training run that will not fit, with one line saying what is needed and what helps. */
export function assertTrainingFits(model: LayersModel, options: { batchSize: number; sequenceLength: number; gradientCheckpointing?: boolean }): void {
  assertFits(estimateTrainingMemory(model, options), `train at batch ${options.batchSize} × ${options.sequenceLength} tokens`);
}

/** The wasm heap running out mid-run (an estimate was wrong) as the same typed one-line error. */
export function asMemoryError(error: unknown): unknown {
  if (!isWasmOutOfMemory(error)) return error;
  return new MemoryBudgetError(
    `ran out of the wasm heap (${formatBytes(WASM_HEAP_LIMIT)} at most) while running: options that help: --quantization nf4, --gradient-checkpointing, a smaller --batch-size or --max-length`,
    { needed: WASM_HEAP_LIMIT, available: WASM_HEAP_LIMIT, memory: 'wasm heap' },
  );
}
