import * as tf from '@tensorflow/tfjs-core';
import { MemoryBudgetError } from '../errors/memory-budget-error';
import { bytesPerValue, storageName, type FrozenStorage } from './frozen-storage';

/** The most a 32-bit wasm heap can address. */
export const WASM_HEAP_LIMIT = 4 * 1024 ** 3;

/** Bytes a run needs, by where they live. */
export interface MemoryEstimate {
  /** tfjs tensors: the wasm heap when the backend is wasm. */
  readonly heapBytes: number;
  /** Native or JS memory outside the heap (converted or quantised frozen weights). */
  readonly outsideBytes: number;
  /** File bytes mapped in place (the page cache; resident as they are read). */
  readonly mappedBytes: number;
  /** Options that would lower the estimate, for the message. */
  readonly hints: readonly string[];
}

const SOURCE_BYTES: Record<string, number> = { F32: 4, BF16: 2, F16: 2, F64: 8 };
const SOURCE_STORAGE: Record<string, string> = { F32: 'float32', BF16: 'bfloat16', F16: 'float16' };

export function formatBytes(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GiB` : `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
}

/**
 * What a store-backed load needs: 2-D float weights go to the store (mapped in place when the
 * checkpoint already has the storage's type and the native store maps it), everything else is a
 * float32 tfjs variable.
 */
export function estimateLoadMemory(tensors: ReadonlyMap<string, { dtype: string; shape: readonly number[] }>, storage: FrozenStorage, native: boolean): MemoryEstimate {
  let heapBytes = 0;
  let outsideBytes = 0;
  let mappedBytes = 0;
  const name = storageName(storage);
  for (const { dtype, shape } of tensors.values()) {
    const count = shape.reduce((product, size) => product * size, 1);
    if (shape.length !== 2 || SOURCE_BYTES[dtype] === undefined) {
      heapBytes += count * 4;
      continue;
    }
    if (native && SOURCE_STORAGE[dtype] === name) mappedBytes += count * SOURCE_BYTES[dtype]!;
    else outsideBytes += count * bytesPerValue(storage);
  }
  const hints = storage.quantization === 'nf4' ? [] : ['--quantization nf4'];
  return { heapBytes, outsideBytes, mappedBytes, hints };
}

/** Memory the system can still give (Linux MemAvailable, else free memory), or undefined outside Node. */
export function availableMemory(): number | undefined {
  const processLike = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: (name: string) => unknown } }).process;
  if (processLike?.versions?.node === undefined) return undefined;
  const require = processLike.getBuiltinModule;
  try {
    const fs = (require ? require('node:fs') : undefined) as typeof import('node:fs') | undefined;
    const os = (require ? require('node:os') : undefined) as typeof import('node:os') | undefined;
    const text = fs?.readFileSync('/proc/meminfo', 'utf8');
    const match = text ? /MemAvailable:\s+(\d+) kB/.exec(text) : null;
    if (match) return Number(match[1]) * 1024;
    return os?.freemem();
  } catch {
    return undefined;
  }
}

/** Heap bytes tfjs holds now (wasm: what the heap already carries). */
function heapInUse(): number {
  return tf.memory().numBytes;
}

/**
 * Throws a MemoryBudgetError (one line: needed, available, what helps) when `estimate` cannot fit:
 * tfjs tensors beyond the wasm heap's 4 GiB (when the backend is wasm), or more than the system's
 * available memory in all.
 */
export function assertFits(estimate: MemoryEstimate, what: string, options: { available?: number; backend?: string } = {}): void {
  const hints = estimate.hints.length > 0 ? `; options that help: ${estimate.hints.join(', ')}` : '';
  const backend = options.backend ?? tf.getBackend();
  if (backend === 'wasm') {
    const heapNeeded = estimate.heapBytes + heapInUse();
    if (heapNeeded > WASM_HEAP_LIMIT) {
      throw new MemoryBudgetError(
        `not enough memory to ${what}: needs ${formatBytes(heapNeeded)} of wasm heap for tfjs tensors, and the wasm heap holds at most ${formatBytes(WASM_HEAP_LIMIT)}${hints}`,
        { needed: heapNeeded, available: WASM_HEAP_LIMIT, memory: 'wasm heap' },
      );
    }
  }
  const available = options.available ?? availableMemory();
  if (available === undefined) return;
  const needed = estimate.heapBytes + estimate.outsideBytes;
  if (needed > available) {
    throw new MemoryBudgetError(`not enough memory to ${what}: needs ${formatBytes(needed)}, ${formatBytes(available)} is available${hints}`, {
      needed,
      available,
      memory: 'memory',
    });
  }
}
