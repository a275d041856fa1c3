/**
 * The shared benchmark harness: warm-up runs, then repeated timed runs summarised as median, min
 * and max; comparisons are ratios of medians measured in the same process. A bench file creates
 * one `Bench`, adds cases and comparisons, and calls `finish()`, which prints a table and writes
 * `bench/results/<name>.json` with the machine it ran on.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';

export interface CaseOptions {
  /** Untimed runs first (default 2). */
  warmup?: number;
  /** Timed runs (default 10). */
  repetitions?: number;
  /** Stop timing early once this many milliseconds of timed runs are spent (at least 3 runs). */
  budgetMs?: number;
  /** Runs before every run (warm-up or timed), untimed: puts the process in the case's state. */
  prepare?: () => void | Promise<void>;
  /** What the case measures, one line, for the table and the JSON. */
  note?: string;
}

export interface BenchCase extends CaseOptions {
  name: string;
  run: () => void | Promise<void>;
}

export interface CaseResult {
  name: string;
  backend: string;
  note?: string;
  warmup: number;
  repetitions: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  samplesMs: number[];
}

export interface Comparison {
  name: string;
  baseline: string;
  candidate: string;
  /** median(baseline) / median(candidate): above 1 means the candidate is faster. */
  speedup: number;
}

export interface Environment {
  tfjsVersion: string;
  backends: string[];
  node: string;
  platform: string;
  cpuModel: string;
  cores: number;
  memoryGiB: number;
}

export function describeEnvironment(backends: string[]): Environment {
  const cpus = os.cpus();
  return {
    tfjsVersion: tf.version_core,
    backends,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
  };
}

function median(sorted: number[]): number {
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export class Bench {
  readonly name: string;
  readonly description: string;
  private readonly results: CaseResult[] = [];
  private readonly comparisons: Comparison[] = [];
  private readonly startedAt = Date.now();

  constructor(name: string, description: string) {
    this.name = name;
    this.description = description;
    console.log(`\n# ${name}: ${description}\n`);
  }

  /** Times one case on the current tfjs backend. */
  async case(name: string, run: () => void | Promise<void>, options: CaseOptions = {}): Promise<CaseResult> {
    return (await this.interleaved([{ name, run, ...options }]))[0];
  }

  /**
   * Times cases round-robin (warm-ups first, then one timed run of each case per round), so that
   * drift in the machine's speed (other processes, thermal limits) hits every case alike. Use it
   * for cases that are compared with each other.
   */
  async interleaved(cases: BenchCase[]): Promise<CaseResult[]> {
    const samples = cases.map(() => [] as number[]);
    const spent = cases.map(() => 0);
    for (const benchCase of cases) {
      for (let index = 0; index < (benchCase.warmup ?? 2); index++) {
        await benchCase.prepare?.();
        await benchCase.run();
      }
    }
    const rounds = Math.max(...cases.map((benchCase) => benchCase.repetitions ?? 10));
    for (let round = 0; round < rounds; round++) {
      for (const [index, benchCase] of cases.entries()) {
        const repetitions = benchCase.repetitions ?? 10;
        const overBudget = benchCase.budgetMs !== undefined && samples[index].length >= 3 && spent[index] >= benchCase.budgetMs;
        if (samples[index].length >= repetitions || overBudget) {
          continue;
        }
        await benchCase.prepare?.();
        const start = performance.now();
        await benchCase.run();
        const elapsed = performance.now() - start;
        samples[index].push(elapsed);
        spent[index] += elapsed;
      }
    }
    const results = cases.map((benchCase, index): CaseResult => {
      const sorted = [...samples[index]].sort((a, b) => a - b);
      return {
        name: benchCase.name,
        backend: tf.getBackend(),
        note: benchCase.note,
        warmup: benchCase.warmup ?? 2,
        repetitions: sorted.length,
        medianMs: median(sorted),
        minMs: sorted[0],
        maxMs: sorted[sorted.length - 1],
        samplesMs: samples[index].map((sample) => Math.round(sample * 1000) / 1000),
      };
    });
    for (const result of results) {
      this.results.push(result);
      console.log(
        `  ${result.name.padEnd(58)} median ${formatMs(result.medianMs).padStart(10)}  ` +
          `(min ${formatMs(result.minMs)}, max ${formatMs(result.maxMs)}, n=${result.repetitions})`,
      );
    }
    return results;
  }

  /** Records median(baseline) / median(candidate) for two cases already measured. */
  compare(name: string, baseline: string, candidate: string): Comparison {
    const find = (caseName: string) => {
      const found = this.results.find((result) => result.name === caseName);
      if (found === undefined) {
        throw new Error(`bench ${this.name}: no case named "${caseName}" to compare`);
      }
      return found;
    };
    const comparison = { name, baseline, candidate, speedup: find(baseline).medianMs / find(candidate).medianMs };
    this.comparisons.push(comparison);
    return comparison;
  }

  /** Prints the results and comparisons as tables and writes `bench/results/<name>.json`. */
  finish(extra: Record<string, unknown> = {}): string {
    const environment = describeEnvironment([...new Set(this.results.map((result) => result.backend))]);
    console.log('');
    console.table(
      this.results.map((result) => ({
        case: result.name,
        backend: result.backend,
        'median ms': round(result.medianMs),
        'min ms': round(result.minMs),
        'max ms': round(result.maxMs),
        runs: result.repetitions,
      })),
    );
    if (this.comparisons.length > 0) {
      console.table(
        this.comparisons.map((comparison) => ({
          comparison: comparison.name,
          speedup: `${comparison.speedup.toFixed(2)}x`,
        })),
      );
    }
    console.log(
      `tfjs ${environment.tfjsVersion}, node ${environment.node}, ${environment.cpuModel}, ` +
        `${environment.cores} cores, ${environment.memoryGiB} GiB, ${((Date.now() - this.startedAt) / 1000).toFixed(1)} s`,
    );
    const directory = join(dirname(fileURLToPath(import.meta.url)), 'results');
    mkdirSync(directory, { recursive: true });
    const path = join(directory, `${this.name}.json`);
    const report = {
      name: this.name,
      description: this.description,
      date: new Date(this.startedAt).toISOString(),
      durationSeconds: Math.round((Date.now() - this.startedAt) / 100) / 10,
      environment,
      ...extra,
      cases: this.results,
      comparisons: this.comparisons,
    };
    writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`wrote ${path}`);
    return path;
  }
}

function formatMs(ms: number): string {
  return ms >= 100 ? `${ms.toFixed(0)} ms` : ms >= 10 ? `${ms.toFixed(1)} ms` : `${ms.toFixed(2)} ms`;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/**
 * Runs a bench file's body and exits non-zero with a readable stack on failure. (An error that
 * escapes as an unhandled rejection after the wasm backend has loaded is rethrown by Emscripten's
 * handler, and Node then prints a whole line of minified wasm glue instead.)
 */
export async function runMain(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (error) {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  }
}
