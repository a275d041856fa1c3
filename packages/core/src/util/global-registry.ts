/**
 * Registries live on globalThis so that two copies of @peftjs/core in one process (a method
 * package that resolved its own copy, say) share them, as tfjs-core does with its kernel registry.
 */
const GLOBAL_KEY = Symbol.for('peftjs.registries.v1');

type Store = Map<string, unknown>;

export function globalRegistry<T>(name: string, create: () => T): T {
  const globals = globalThis as unknown as Record<symbol, Store | undefined>;
  let store = globals[GLOBAL_KEY];
  if (!store) {
    store = new Map();
    globals[GLOBAL_KEY] = store;
  }
  if (!store.has(name)) store.set(name, create());
  return store.get(name) as T;
}
