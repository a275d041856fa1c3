/** The backends runtime can pick, best first; nothing else in the selection logic names a backend. */
export const BACKEND_NAMES = ['tensorflow', 'webgpu', 'wasm', 'cpu'] as const;

/** A backend runtime can initialise. */
export type BackendName = (typeof BACKEND_NAMES)[number];

/** What `options.backend` / `PEFTJS_BACKEND` accept: a backend, or `auto` for the best one present. */
export type BackendChoice = BackendName | 'auto';

export function isBackendName(value: string): value is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(value);
}
