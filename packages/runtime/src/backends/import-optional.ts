/**
 * Imports an optional peer dependency by name. The specifier is a variable on purpose: bundlers
 * must not try to resolve packages the user may not have installed.
 */
export async function importOptional(packageName: string): Promise<Record<string, unknown>> {
  return (await import(/* @vite-ignore */ /* webpackIgnore: true */ packageName)) as Record<string, unknown>;
}

/**
 * Whether `error` says that `packageName` itself could not be found (as opposed to the package
 * being found but failing while it loads, for example a native library that is missing).
 */
export function isModuleNotFound(error: unknown, packageName: string): boolean {
  if (typeof error !== 'object' || error === null) {
    return false;
  }
  const { code, message } = error as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : '';
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
    // Node also uses these codes when the package is present but one of *its* imports is missing;
    // only the package's own name in the message means it is not installed.
    return text.includes(`'${packageName}'`) || text.includes(`"${packageName}"`);
  }
  // Bundler and vite / vitest resolution failures ('Could not resolve "x" imported by "y"').
  return /Cannot find (package|module)|Could not resolve|Failed to (load|resolve)/.test(text) && text.includes(packageName);
}

/** A named export of a module that may be ESM or CommonJS (then it can sit on `module.default`). */
export function moduleExport(module: Record<string, unknown>, name: string): unknown {
  if (name in module) {
    return module[name];
  }
  const fallback = module.default;
  return typeof fallback === 'object' && fallback !== null ? (fallback as Record<string, unknown>)[name] : undefined;
}
