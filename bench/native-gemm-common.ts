/** What the native GEMM benchmarks share: the addon (or why not), seeded operands, the FMA peak. */
import { loadNative, type NativeAddon } from '@peftjs/native';

/** The addon, or undefined after printing why the benchmark is skipped. */
export function nativeAddonOrSkip(): NativeAddon | undefined {
  const status = loadNative();
  if (!status.available) {
    console.log(`skipped: @peftjs/native is unavailable (${status.reason})`);
    return undefined;
  }
  return status.addon;
}

/** `size` floats in [-0.05, 0.05) from a linear congruential generator (the same for a seed). */
export function seededFloats(size: number, seed: number): Float32Array {
  const values = new Float32Array(size);
  let state = seed >>> 0 || 1;
  for (let index = 0; index < size; index++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    values[index] = ((state / 2 ** 32) * 2 - 1) * 0.05;
  }
  return values;
}

/** The best of this core's FMA peak measured so far in the run (call `measure()` around each group). */
export class PeakMeter {
  best = 0;

  constructor(
    private readonly addon: NativeAddon,
    private readonly milliseconds: number,
  ) {}

  measure(): void {
    this.best = Math.max(this.best, this.addon.measurePeak(this.milliseconds));
  }
}
