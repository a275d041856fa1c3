const KEY = Symbol.for('peftjs.promptTuning.injectionStack');

function stack(): boolean[] {
  const holder = globalThis as unknown as Record<symbol, boolean[] | undefined>;
  return (holder[KEY] ??= []);
}

/**
 * Runs a synchronous forward pass with the virtual-token embeddings left out: generation's later
 * steps feed one new token, and the prompt is already in the key/value cache (PEFT injects it
 * on the first step only). Attention masks are still extended.
 */
export function withoutPromptInjection<T>(run: () => T): T {
  stack().push(false);
  try {
    return run();
  } finally {
    stack().pop();
  }
}

/** Whether prompt layers prepend their virtual tokens in the current forward pass (default true). */
export function promptInjectionEnabled(): boolean {
  const current = stack();
  return current.length === 0 ? true : current[current.length - 1]!;
}
