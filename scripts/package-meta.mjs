#!/usr/bin/env node
// Keeps every published package's metadata true: the license file and field, where the source
// lives (repository, homepage, bugs), and peer ranges on workspace packages that a 0.x minor
// release of the peer stays inside (so a core minor does not force every plugin to 1.0.0).
// `node scripts/package-meta.mjs` checks (CI); `--write` fixes.
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const write = process.argv.includes('--write');
const REPOSITORY = 'https://github.com/peftjs/peftjs';
const licenseText = readFileSync(`${root}LICENSE`, 'utf8');
// Peers on workspace packages: any 0.x from the first release on (changesets leaves in-range
// dependents alone with onlyUpdatePeerDependentsWhenOutOfRange).
const PEER_RANGE = 'workspace:>=0.1.0 <1.0.0';

const problems = [];
for (const name of readdirSync(`${root}packages`)) {
  const dir = `packages/${name}`;
  const manifestPath = `${root}${dir}/package.json`;
  if (!existsSync(manifestPath)) continue;
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  if (manifest.private) continue;
  const before = JSON.stringify(manifest);
  const expected = {
    license: 'Apache-2.0',
    repository: { type: 'git', url: `git+${REPOSITORY}.git`, directory: dir },
    homepage: `${REPOSITORY}/tree/main/${dir}#readme`,
    bugs: { url: `${REPOSITORY}/issues` },
  };
  for (const [key, value] of Object.entries(expected)) {
    if (JSON.stringify(manifest[key]) !== JSON.stringify(value)) {
      problems.push(`${dir}/package.json: "${key}" should be ${JSON.stringify(value)}`);
      manifest[key] = value;
    }
  }
  for (const [peer, range] of Object.entries(manifest.peerDependencies ?? {})) {
    if (peer.startsWith('@peftjs/') && range !== PEER_RANGE) {
      problems.push(`${dir}/package.json: peer "${peer}" is "${range}", should be "${PEER_RANGE}"`);
      manifest.peerDependencies[peer] = PEER_RANGE;
    }
  }
  if (!manifest.files?.includes('LICENSE')) {
    problems.push(`${dir}/package.json: "files" should list LICENSE`);
    manifest.files = [...(manifest.files ?? []), 'LICENSE'];
  }
  if (write && JSON.stringify(manifest) !== before) {
    // Keep the metadata fields beside the license, in npm's usual order.
    const ordered = {};
    for (const [key, value] of Object.entries(manifest)) {
      if (['repository', 'homepage', 'bugs'].includes(key)) continue;
      ordered[key] = value;
      if (key === 'license') Object.assign(ordered, { repository: manifest.repository, homepage: manifest.homepage, bugs: manifest.bugs });
    }
    writeFileSync(manifestPath, `${JSON.stringify(ordered, null, 2)}\n`);
  }
  const licensePath = `${root}${dir}/LICENSE`;
  if (!existsSync(licensePath) || readFileSync(licensePath, 'utf8') !== licenseText) {
    problems.push(`${dir}/LICENSE is missing or differs from the repository's`);
    if (write) copyFileSync(`${root}LICENSE`, licensePath);
  }
}

if (problems.length === 0) console.log('package metadata: ok');
else if (write) console.log(`package metadata: fixed ${problems.length} problem(s)`);
else {
  for (const problem of problems) console.error(problem);
  console.error('run `node scripts/package-meta.mjs --write` to fix');
  process.exit(1);
}
