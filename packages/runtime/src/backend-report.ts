import type { BackendName } from './backends/backend-name';
import type { NativeReport } from './native/native-kernels';
import type { WasmFixName } from './wasm-fixes/wasm-fix-names';

/** What `initBackend` chose and did. */
export interface BackendReport {
  /** The active tfjs backend. */
  readonly backend: BackendName;
  /** Whether a GPU is in use: true for `@tensorflow/tfjs-node-gpu` when TensorFlow placed ops on a GPU. */
  readonly gpu: boolean;
  /** The npm package that provides the backend, e.g. `@tensorflow/tfjs-backend-wasm`. */
  readonly packageName: string;
  /** That package's version. */
  readonly version: string;
  /** The backend fixes that are registered (see `WasmFix`); empty on backends that need none. */
  readonly fixes: readonly WasmFixName[];
  /** On wasm: whether `@peftjs/native`'s kernels are in use (GEMM ISA, threads), or why not. */
  readonly native?: NativeReport;
  /** On wasm: the threads XNNPACK runs on (1 unless `wasmThreads` asked for more), and why fewer when so. */
  readonly wasmThreads?: { readonly threads: number; readonly reason?: string };
  /** On webgpu: the adapter, and whether it is a software one (lavapipe: WebGPU on the CPU). */
  readonly adapter?: { readonly description: string; readonly fallback: boolean };
}

/** One line for logs: `tfjs backend: wasm (@tensorflow/tfjs-backend-wasm 4.22.0), no GPU, fixes: …`. */
export function formatBackendReport(report: BackendReport): string {
  const gpu = report.gpu ? 'GPU' : 'no GPU';
  const fixes = report.fixes.length === 0 ? 'no fixes' : `fixes: ${report.fixes.join(', ')}`;
  const native =
    report.native === undefined
      ? ''
      : report.native.available
        ? `, native: ${report.native.isa} (${report.native.threads} thread${report.native.threads === 1 ? '' : 's'})`
        : `, native: off (${report.native.reason})`;
  const threads =
    report.wasmThreads === undefined || (report.wasmThreads.threads === 1 && report.wasmThreads.reason === undefined)
      ? ''
      : `, wasm threads: ${report.wasmThreads.threads}${report.wasmThreads.reason === undefined ? '' : ` (${report.wasmThreads.reason})`}`;
  const adapter = report.adapter === undefined ? '' : `, adapter: ${report.adapter.description}${report.adapter.fallback ? ' (software)' : ''}`;
  return `tfjs backend: ${report.backend} (${report.packageName} ${report.version}), ${gpu}, ${fixes}${native}${threads}${adapter}`;
}
