#!/usr/bin/env node
// Fails on any import a workspace package does not declare: every bare specifier in a package's
// files (library code and tests alike) must name the package itself, a Node built-in, or one of
// its package.json dependencies (or shared tooling the workspace root declares: vitest, tsup, tfjs
// backends — never a workspace package); a relative import must stay inside the package, except
// into the repository's shared test data (test-fixtures/). Tests resolve through the root vitest
// aliases, which would otherwise hide a missing declaration.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { IMPORT, isLibraryFile, packageName, readManifest, root, sourceFiles, stripComments, workspaceFolders } from './workspace-sources.mjs';

const builtins = new Set(builtinModules);
const rootManifest = readManifest(root);
const rootTooling = Object.keys(rootManifest.devDependencies ?? {}).filter((name) => !name.startsWith('@peftjs/'));
const sharedTestData = join(root, 'test-fixtures');

/** The packages a test-fixtures module imports, through its own relative imports too. */
function sharedTestDataPackages(target, seen = new Set()) {
  const file = [target, `${target}.ts`, join(target, 'index.ts')].find((candidate) => existsSync(candidate) && statSync(candidate).isFile());
  if (!file || seen.has(file)) return [];
  seen.add(file);
  const names = [];
  for (const match of stripComments(readFileSync(file, 'utf8')).matchAll(IMPORT)) {
    const specifier = match[1] ?? match[2] ?? match[3] ?? match[4];
    if (specifier.startsWith('.')) names.push(...sharedTestDataPackages(resolve(dirname(file), specifier), seen));
    else if (!specifier.startsWith('node:') && !builtins.has(specifier)) names.push(packageName(specifier));
  }
  return names;
}

const problems = [];
for (const folder of workspaceFolders()) {
  const manifest = readManifest(folder);
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
        // What a shared test-data module imports, the package importing it must declare too.
        if (inside(sharedTestData)) {
          for (const name of sharedTestDataPackages(target)) {
            if (!declared.has(name)) problems.push(`${where}: "${specifier}" imports "${name}", which ${relative(root, folder)}/package.json does not declare`);
          }
        }
        continue;
      }
      if (specifier.startsWith('node:') || builtins.has(specifier) || specifier.startsWith('virtual:') || specifier.startsWith('/')) continue;
      const name = packageName(specifier);
      if (!declared.has(name)) problems.push(`${where}: imports "${name}", which ${relative(root, folder)}/package.json does not declare`);
      // A library reaches another workspace package through a declared, static import: a dynamic
      // one hides the edge from the package graph (tests and examples may load lazily).
      const library = isLibraryFile(file);
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
