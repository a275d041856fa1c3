#!/usr/bin/env node
// Fails on any import a workspace package does not declare: every bare specifier in a package's
// files (library code and tests alike) must name the package itself, a Node built-in, or one of
// its package.json dependencies (or shared tooling the workspace root declares: vitest, tsup, tfjs
// backends — never a workspace package); a relative import must stay inside the package, except
// into the repository's shared test data (test-fixtures/). Tests resolve through the root vitest
// aliases, which would otherwise hide a missing declaration.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE = /\.(ts|mts|cts|tsx|js|mjs|cjs)$/;
const SKIP = new Set(['node_modules', 'dist', '.vitepress', 'coverage', 'build']);
const IMPORT =
  /(?:^|[^\w.$])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|;)\s*import\s*['"]([^'"]+)['"]|(?:^|[^\w.$])import\s*\(\s*['"]([^'"]+)['"]\s*\)|(?:^|[^\w.$])require\s*\(\s*['"]([^'"]+)['"]\s*\)/gm;
const builtins = new Set(builtinModules);
const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const rootTooling = Object.keys(rootManifest.devDependencies ?? {}).filter((name) => !name.startsWith('@peftjs/'));
const sharedTestData = join(root, 'test-fixtures');

function workspaceFolders() {
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

function sourceFiles(folder) {
  return readdirSync(folder).flatMap((name) => {
    if (SKIP.has(name) || name.startsWith('.')) return [];
    const path = join(folder, name);
    const stat = statSync(path);
    if (stat.isDirectory()) return existsSync(join(path, 'package.json')) ? [] : sourceFiles(path);
    return SOURCE.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Drops comments so that import-like text in them does not count. */
function stripComments(text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

function packageName(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

const problems = [];
for (const folder of workspaceFolders()) {
  const manifest = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8'));
  const declared = new Set([
    ...rootTooling,
    manifest.name,
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.devDependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}),
    ...Object.keys(manifest.optionalDependencies ?? {}),
  ]);
  for (const file of sourceFiles(folder)) {
    const text = stripComments(readFileSync(file, 'utf8'));
    for (const match of text.matchAll(IMPORT)) {
      const specifier = match[1] ?? match[2] ?? match[3] ?? match[4];
      const where = relative(root, file);
      if (specifier.startsWith('.')) {
        const target = resolve(dirname(file), specifier);
        const inside = (base) => target === base || target.startsWith(base + sep);
        if (!inside(folder) && !inside(sharedTestData)) problems.push(`${where}: "${specifier}" reaches outside ${relative(root, folder)}; depend on the package instead`);
        continue;
      }
      if (specifier.startsWith('node:') || builtins.has(specifier) || specifier.startsWith('virtual:') || specifier.startsWith('/')) continue;
      const name = packageName(specifier);
      if (!declared.has(name)) problems.push(`${where}: imports "${name}", which ${relative(root, folder)}/package.json does not declare`);
      // A library reaches another workspace package through a declared, static import: a dynamic
      // one hides the edge from the package graph (tests and examples may load lazily).
      const library = folder.startsWith(join(root, 'packages') + sep) && !/\.test\.[cm]?[jt]sx?$/.test(file) && !file.includes(`${sep}__fixtures__${sep}`);
      if (library && match[3] !== undefined && name.startsWith('@peftjs/') && name !== manifest.name) {
        problems.push(`${where}: imports "${name}" dynamically; import it statically (and declare it) so the package graph shows the edge`);
      }
    }
  }
}

if (problems.length > 0) {
  console.error(problems.join('\n'));
  console.error(`\n${problems.length} undeclared import(s)`);
  process.exit(1);
}
console.log('every import is declared');
