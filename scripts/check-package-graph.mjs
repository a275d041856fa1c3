#!/usr/bin/env node
// The package graph, written down: which published workspace package may depend on which, and why.
// An edge is a workspace package named by a package's dependencies, peerDependencies or
// optionalDependencies, or by its library code (an import, or a specifier string that a dynamic
// load reads). Fails on an edge the table does not allow, on a table edge no package has (the
// picture must stay true), on library code naming a package it declares only for its tests, on a
// package loaded by a specifier string that is not an optional peer, and on cycles. Prints the graph
// (mermaid); the architecture page carries it between `<!-- package-graph -->` markers, and
// `--write` regenerates that part (without it, a stale page fails: `pnpm -s lint` runs this).
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { IMPORT, isLibraryFile, readManifest, root, sourceFiles, stripComments, workspaceFolders } from './workspace-sources.mjs';

const SCOPE = '@peftjs/';
const TUNER = 'implements the tuner plugin interface (TunerV1, layers, config schema)';

/**
 * The allowed edges: package → { dependency: why }. A method package depends on core alone unless it
 * is built on another method's parts, as PEFT's own class of it is. `optional` edges are optional
 * peers that the package loads on demand (the one kind of dynamic load across packages).
 */
const ALLOWED = {
  core: {},
  hub: { core: 'reads and writes the state dicts and configs of PeftModels' },
  lora: { core: TUNER },
  ia3: { core: TUNER },
  'ln-tuning': { core: TUNER },
  'adaption-prompt': { core: TUNER },
  'prompt-tuning': { core: TUNER },
  adalora: { core: TUNER },
  poly: { core: TUNER },
  vera: { core: TUNER },
  oft: { core: TUNER },
  boft: { core: TUNER, oft: "is built on OFT's parts (block-diagonal Cayley transform, conv settings, inference cache), as PEFT's BOFT layer is" },
  lycoris: { core: 'the shared LyCORIS layer and tuner factory on the plugin interface' },
  loha: { core: TUNER, lycoris: "is a LyCORIS method: PEFT's LoHa extends LycorisLayer and LycorisTuner" },
  lokr: { core: TUNER, lycoris: "is a LyCORIS method: PEFT's LoKr extends LycorisLayer and LycorisTuner" },
  models: {
    core: 'registers architectures and implements the layer contracts (KV cache, positions, masks) that generation uses',
    hub: "loads checkpoints through hub's safetensors reader and downloads them with hub's Hub client (from_pretrained)",
    native: { optional: true, why: 'keeps frozen weights in the optional native store when it is installed' },
  },
  runtime: { native: { optional: true, why: 'uses the optional native kernels when they are installed and pass their self-test' } },
  native: {},
  trainer: { core: 'trains PeftModels', hub: "writes checkpoints and adapter folders in hub's formats (safetensors, PEFT folders)" },
  cli: 'every', // the command composes every package below it
};

const write = process.argv.includes('--write');
const problems = [];
const packages = new Map(); // short name → { folder, manifest }
for (const folder of workspaceFolders()) {
  const manifest = readManifest(folder);
  if (folder.startsWith(join(root, 'packages')) && !manifest.private && manifest.name.startsWith(SCOPE)) packages.set(manifest.name.slice(SCOPE.length), { folder, manifest });
}
const short = (name) => (name.startsWith(SCOPE) ? name.slice(SCOPE.length) : undefined);
const allowedFor = (from) =>
  ALLOWED[from] === 'every' ? Object.fromEntries([...packages.keys()].filter((name) => name !== from).map((name) => [name, 'composes it'])) : (ALLOWED[from] ?? {});
const allowedEdge = (from, to) => {
  const entry = allowedFor(from)[to];
  return entry === undefined ? undefined : typeof entry === 'string' ? { why: entry, optional: false } : { why: entry.why, optional: entry.optional === true };
};

for (const name of packages.keys())
  if (!(name in ALLOWED)) problems.push(`${SCOPE}${name} is not in the package graph table of scripts/check-package-graph.mjs: add it with its allowed edges`);
for (const name of Object.keys(ALLOWED)) if (!packages.has(name)) problems.push(`the package graph table names ${SCOPE}${name}, which is no published workspace package`);

/** The edges a package has: declared in its manifest, and named by its library code. */
const edges = new Map(); // from → Map(to → { declared, dependencyKind, loadedBy: Set })
for (const [from, { folder, manifest }] of packages) {
  const found = new Map();
  const declared = (section) =>
    Object.keys(manifest[section] ?? {})
      .map(short)
      .filter(Boolean);
  const testOnly = new Set(declared('devDependencies'));
  for (const section of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
    for (const to of declared(section)) {
      testOnly.delete(to);
      found.set(to, { section, optionalPeer: section === 'optionalDependencies' || manifest.peerDependenciesMeta?.[`${SCOPE}${to}`]?.optional === true, files: new Set() });
    }
  }
  for (const file of sourceFiles(folder).filter(isLibraryFile)) {
    const text = stripComments(readFileSync(file, 'utf8'));
    const where = relative(root, file);
    const imported = new Set();
    for (const match of text.matchAll(IMPORT)) {
      const specifier = match[1] ?? match[2] ?? match[3] ?? match[4];
      const to = short(specifier.split('/').slice(0, 2).join('/'));
      if (to && to !== from) imported.add(to);
    }
    // A whole string literal naming a package, outside an import: a specifier a dynamic load reads.
    const loadedByName = new Set([...text.matchAll(/(['"`])@peftjs\/([a-z0-9-]+)\1/g)].map((match) => match[2]).filter((to) => to !== from && !imported.has(to)));
    for (const to of [...imported, ...loadedByName]) {
      const edge = found.get(to);
      if (!edge) {
        problems.push(
          testOnly.has(to)
            ? `${where}: library code uses ${SCOPE}${to}, which ${SCOPE}${from} declares only as a devDependency (users will not have it)`
            : `${where}: names ${SCOPE}${to}, which ${SCOPE}${from}/package.json does not declare`,
        );
        continue;
      }
      edge.files.add(where);
      if (loadedByName.has(to) && !edge.optionalPeer) {
        problems.push(`${where}: loads ${SCOPE}${to} by a specifier string (a dynamic import); only an optional peer may be loaded so: import it statically`);
      }
    }
  }
  edges.set(from, found);
}

for (const [from, found] of edges) {
  for (const [to, edge] of found) {
    const allowed = allowedEdge(from, to);
    if (!allowed) {
      problems.push(
        `${SCOPE}${from} → ${SCOPE}${to} (${edge.section}) is not an allowed edge: depend on core instead, or add it to the table in scripts/check-package-graph.mjs with why it is right`,
      );
    } else if (allowed.optional !== edge.optionalPeer) {
      problems.push(
        `${SCOPE}${from} → ${SCOPE}${to}: the table says ${allowed.optional ? 'an optional peer' : 'a required dependency'}, package.json says ${edge.optionalPeer ? 'an optional peer' : 'required'}`,
      );
    }
  }
  if (ALLOWED[from] === 'every') continue;
  for (const to of Object.keys(allowedFor(from))) {
    if (!found.has(to)) problems.push(`the table allows ${SCOPE}${from} → ${SCOPE}${to}, which ${SCOPE}${from} no longer has: remove it so the picture stays true`);
  }
}

// Cycles: a depth-first walk that meets a package still on its path.
const state = new Map();
function visit(name, path) {
  if (state.get(name) === 'done') return;
  if (state.get(name) === 'open') {
    problems.push(`cycle: ${[...path.slice(path.indexOf(name)), name].map((entry) => SCOPE + entry).join(' → ')}`);
    return;
  }
  state.set(name, 'open');
  for (const to of edges.get(name)?.keys() ?? []) visit(to, [...path, name]);
  state.set(name, 'done');
}
for (const name of [...edges.keys()].sort()) visit(name, []);

/** The graph as mermaid, the CLI's edges folded into one line (it depends on every package). */
function mermaid() {
  const lines = ['```mermaid', 'flowchart BT'];
  for (const [from, found] of [...edges].sort(([a], [b]) => a.localeCompare(b))) {
    if (ALLOWED[from] === 'every') continue;
    for (const to of [...found.keys()].sort()) lines.push(`  ${node(from)} ${found.get(to).optionalPeer ? '-. optional .->' : '-->'} ${node(to)}`);
  }
  for (const [from] of edges) if (ALLOWED[from] === 'every') lines.push(`  ${node(from)} == every package ==> everything[every package above]`);
  lines.push('```');
  return lines.join('\n');
}
function node(name) {
  return name.includes('-') ? `${name.replace(/-/g, '_')}[${name}]` : name;
}

/** The edges with their reasons, as a table the docs site renders. */
function table() {
  const rows = [...edges]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([from, found]) => {
      const role = packages.get(from).manifest.description ?? '';
      const depends =
        ALLOWED[from] === 'every'
          ? 'every package (it composes them)'
          : [...found.keys()]
              .sort()
              .map((to) => {
                const allowed = allowedEdge(from, to);
                return `\`${to}\`${allowed?.optional ? ' (optional peer)' : ''}: ${allowed?.why ?? '—'}`;
              })
              .join('; ') || 'only tfjs (peers)';
      return `| \`${SCOPE}${from}\` | ${depends.replace(/\|/g, '\\|')} | ${role.replace(/\|/g, '\\|')} |`;
    });
  return ['| package | depends on (and why) | role |', '|---|---|---|', ...rows].join('\n');
}

if (problems.length > 0) {
  console.error(problems.join('\n'));
  console.error(`\n${problems.length} package graph problem(s)`);
  process.exit(1);
}

const page = join(root, 'docs', 'guide', 'architecture.md');
const pattern = /(<!-- package-graph: generated by scripts\/check-package-graph\.mjs --write -->\n)[\s\S]*?(<!-- \/package-graph -->)/;
const text = readFileSync(page, 'utf8');
if (!pattern.test(text)) {
  console.error(`${relative(root, page)} has no <!-- package-graph: generated by scripts/check-package-graph.mjs --write --> … <!-- /package-graph --> markers`);
  process.exit(1);
}
const updated = text.replace(pattern, (_, start, end) => `${start}\n${mermaid()}\n\n${table()}\n\n${end}`);
if (updated !== text) {
  if (!write) {
    console.error(`${relative(root, page)}: the package graph is out of date: run node scripts/${basename(import.meta.url)} --write`);
    process.exit(1);
  }
  writeFileSync(page, updated);
  console.log(`wrote the package graph into ${relative(root, page)}`);
}
if (process.argv.includes('--print')) console.log(mermaid());
console.log(`package graph: ${[...edges.values()].reduce((sum, found) => sum + found.size, 0)} edges among ${packages.size} packages, every one allowed, no cycle`);
