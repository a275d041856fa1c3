// What the workspace checks (check-imports, check-package-graph) read: the workspace packages,
// their source files, and the module specifiers those files name.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE = /\.(ts|mts|cts|tsx|js|mjs|cjs)$/;
const SKIP = new Set(['node_modules', 'dist', '.vitepress', 'coverage', 'build']);

/** Static imports and re-exports (1), side-effect imports (2), literal dynamic imports (3), require calls (4). */
export const IMPORT =
  /(?:^|[^\w.$])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|;)\s*import\s*['"]([^'"]+)['"]|(?:^|[^\w.$])import\s*\(\s*['"]([^'"]+)['"]\s*\)|(?:^|[^\w.$])require\s*\(\s*['"]([^'"]+)['"]\s*\)/gm;

/** Every workspace package folder: packages/*, examples/*, bench. */
export function workspaceFolders() {
  const folders = [];
  for (const group of ['packages', 'examples']) {
    for (const name of readdirSync(join(root, group))) {
      const folder = join(root, group, name);
      if (existsSync(join(folder, 'package.json'))) folders.push(folder);
    }
  }
  if (existsSync(join(root, 'bench', 'package.json'))) folders.push(join(root, 'bench'));
  return folders;
}

export function readManifest(folder) {
  return JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8'));
}

/** The source files of a package folder (not build output, not a nested package). */
export function sourceFiles(folder) {
  return readdirSync(folder).flatMap((name) => {
    if (SKIP.has(name) || name.startsWith('.')) return [];
    const path = join(folder, name);
    const stat = statSync(path);
    if (stat.isDirectory()) return existsSync(join(path, 'package.json')) ? [] : sourceFiles(path);
    return SOURCE.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Whether a file of packages/* is library code (what users run), not a test or a test fixture. */
export function isLibraryFile(file) {
  return file.startsWith(join(root, 'packages') + sep) && !/\.test\.[cm]?[jt]sx?$/.test(file) && !file.includes(`${sep}__fixtures__${sep}`);
}

/** Drops comments so that import-like text in them does not count. */
export function stripComments(text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

/** The package a bare specifier names: `@scope/name` or `name`. */
export function packageName(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}
