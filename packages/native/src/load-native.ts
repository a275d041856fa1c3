import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import type { NativeAddon, NativeIsa } from './native-addon';
import { NATIVE_ISAS } from './native-addon';
import { selfTest } from './self-test';

/** Set to `0` (or `false`, `off`) to never load the addon. */
export const NATIVE_ENV_VAR = 'PEFTJS_NATIVE';

/** Whether the addon loaded, and why not when it did not. */
export type NativeStatus = { readonly available: true; readonly addon: NativeAddon; readonly path: string } | { readonly available: false; readonly reason: string };

/** Where the build puts the addon (relative to this file, in `src/` and in `dist/` alike). */
const addonUrl = new URL('../build/Release/peftjs_native.node', import.meta.url);
const reportUrl = new URL('../build/build-report.json', import.meta.url);

const cacheKey = Symbol.for('peftjs.native.status');
type Cache = { [cacheKey]?: NativeStatus };

/**
 * Loads the addon once per process, runs its self-test with every GEMM the CPU supports, and
 * returns it; or says why it is unavailable (not built, disabled, failed to load, failed the test).
 * Never throws.
 */
export function loadNative(options: { env?: Readonly<Record<string, string | undefined>> } = {}): NativeStatus {
  const env = options.env ?? process.env;
  const setting = env[NATIVE_ENV_VAR]?.trim().toLowerCase();
  if (setting === '0' || setting === 'false' || setting === 'off') {
    return { available: false, reason: `disabled by ${NATIVE_ENV_VAR}=${env[NATIVE_ENV_VAR]}` };
  }
  const cache = globalThis as Cache;
  cache[cacheKey] ??= load();
  return cache[cacheKey];
}

function load(): NativeStatus {
  const path = fileURLToPath(addonUrl);
  if (!existsSync(path)) {
    return { available: false, reason: `the addon is not built (${path} is missing; ${buildHint()})` };
  }
  let addon: NativeAddon;
  try {
    addon = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (error) {
    return { available: false, reason: `the addon failed to load: ${error instanceof Error ? error.message : String(error)}` };
  }
  // Each GEMM the CPU supports is checked; the best one that passes is used (a kernel that fails
  // its test is never run on real data).
  const best = addon.info().bestIsa;
  let chosen: NativeIsa | undefined;
  const failures: string[] = [];
  for (const isa of NATIVE_ISAS.slice(0, NATIVE_ISAS.indexOf(best) + 1) as NativeIsa[]) {
    addon.setIsa(isa);
    const failure = selfTest(addon);
    if (failure === undefined) {
      chosen = isa;
    } else {
      failures.push(`${isa}: ${failure}`);
    }
  }
  if (chosen === undefined) {
    addon.setIsa(null);
    return { available: false, reason: `the addon failed its self-test (${failures.join('; ')})` };
  }
  addon.setIsa(chosen === best ? null : chosen);
  return { available: true, addon, path };
}

function buildHint(): string {
  try {
    const report = JSON.parse(readFileSync(fileURLToPath(reportUrl), 'utf8')) as { reason?: string; attempts?: string[] };
    if (report.reason !== undefined) {
      return `the install-time build said: ${report.reason}`;
    }
  } catch {
    // no report: the install script did not run
  }
  return 'build it with `node scripts/install.mjs` in @peftjs/native (needs a C compiler and the Node headers)';
}
