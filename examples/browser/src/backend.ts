import * as tf from '@tensorflow/tfjs-core';

export const BACKEND_ORDER = ['webgpu', 'webgl', 'wasm'] as const;
export type BackendName = (typeof BACKEND_ORDER)[number];
export type BackendPreference = BackendName | 'auto';

export interface BackendReport {
  name: BackendName;
  /** What the GPU backends said when they were passed over (fastest first). */
  skipped: Array<{ name: BackendName; reason: string }>;
  /** A few words on the device: the GPU adapter or renderer, wasm's SIMD and threads. */
  detail: string;
  /** Asked for by name (not picked automatically). */
  requested: boolean;
}

interface GpuAdapterInfo {
  vendor?: string;
  architecture?: string;
  description?: string;
}
interface NavigatorWithGpu {
  gpu?: { requestAdapter(options?: { powerPreference?: string }): Promise<{ info?: GpuAdapterInfo } | null> };
}

async function tryWebGpu(): Promise<string> {
  const gpu = (globalThis.navigator as NavigatorWithGpu | undefined)?.gpu;
  if (!gpu) throw new Error('this browser has no WebGPU (navigator.gpu)');
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('WebGPU found no GPU adapter');
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('the tfjs WebGPU backend failed to initialise');
  const info = adapter.info ?? {};
  return [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'GPU';
}

async function tryWebGl(requested: boolean): Promise<string> {
  await import('@tensorflow/tfjs-backend-webgl');
  if (!(await tf.setBackend('webgl'))) throw new Error('WebGL is not available (no context, or it failed to initialise)');
  if (!tf.env().getBool('WEBGL_RENDER_FLOAT32_CAPABLE')) throw new Error('this WebGL cannot render float32 textures, too imprecise to train');
  const gl = (tf.backend() as unknown as { gpgpu?: { gl?: WebGLRenderingContext } }).gpgpu?.gl;
  const debug = gl?.getExtension('WEBGL_debug_renderer_info');
  const renderer = gl && debug ? String(gl.getParameter(debug.UNMASKED_RENDERER_WEBGL)) : 'GPU';
  // Picked automatically, a software renderer is passed over; asked for by name, it is used.
  if (!requested && /swiftshader|llvmpipe|software/i.test(renderer)) throw new Error(`WebGL runs on a software renderer (${renderer}), slower than wasm`);
  return `WebGL ${tf.env().getNumber('WEBGL_VERSION')}, ${renderer}`;
}

async function tryWasm(wasmPath: string): Promise<string> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(wasmPath);
  if (!(await tf.setBackend('wasm'))) throw new Error('the tfjs wasm backend failed to initialise');
  // @peftjs/runtime's wasm fixes: fast matrix-product gradients and the kernels wasm lacks
  // (UnsortedSegmentSum, which prompt tuning's embedding gradient needs).
  const { registerWasmFixes } = await import('@peftjs/runtime');
  registerWasmFixes();
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  return `WebAssembly${simd ? ' + SIMD' : ''}${threads ? ' + threads' : ''}`;
}

/**
 * Picks the fastest backend this browser has: WebGPU, then WebGL (a real GPU with float32
 * textures), then WebAssembly (served with the page, at `wasmPath`). A preference other than
 * 'auto' tries that one first (and takes WebGL even on a software renderer). Backends are
 * imported only when tried.
 */
export async function pickBackend(preference: BackendPreference, wasmPath: string): Promise<BackendReport> {
  const order: BackendName[] = preference === 'auto' ? [...BACKEND_ORDER] : [preference, ...BACKEND_ORDER.filter((name) => name !== preference)];
  const skipped: BackendReport['skipped'] = [];
  for (const name of order) {
    try {
      const detail = name === 'webgpu' ? await tryWebGpu() : name === 'webgl' ? await tryWebGl(preference === 'webgl') : await tryWasm(wasmPath);
      return { name, skipped, detail, requested: preference === name };
    } catch (error) {
      skipped.push({ name, reason: error instanceof Error ? error.message : String(error) });
    }
  }
  throw new Error(`no tfjs backend works in this browser: ${skipped.map((entry) => `${entry.name}: ${entry.reason}`).join('; ')}`);
}
