// A throwaway npm registry for the release rehearsal: it serves the packed @peftjs tarballs as if
// they were published and sends every other package to the real registry, so `npm i -g
// @peftjs/cli` resolves the CLI's @peftjs dependencies exactly as it will after a release.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { basename } from 'node:path';

/**
 * Starts the registry on a free local port. `tarballs` are paths to `pnpm pack` outputs;
 * `upstream` is the registry that serves everything else (npm's configured one).
 */
export async function startLocalRegistry(tarballs, upstream) {
  const packages = new Map();
  const files = new Map();
  for (const file of tarballs) {
    const manifest = JSON.parse(spawnSync('tar', ['xzOf', file, 'package/package.json'], { encoding: 'utf8' }).stdout);
    const bytes = readFileSync(file);
    files.set(basename(file), bytes);
    packages.set(manifest.name, { manifest, file: basename(file), integrity: `sha512-${createHash('sha512').update(bytes).digest('base64')}` });
  }
  const server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url, 'http://registry').pathname).slice(1);
    if (path.startsWith('-/') && files.has(path.slice(2))) {
      response.writeHead(200, { 'content-type': 'application/octet-stream' });
      response.end(files.get(path.slice(2)));
      return;
    }
    const entry = packages.get(path);
    if (!entry) {
      response.writeHead(302, { location: new URL(request.url.slice(1), upstream).href });
      response.end();
      return;
    }
    const { manifest, file, integrity } = entry;
    const version = { ...manifest, _id: `${manifest.name}@${manifest.version}`, dist: { tarball: `${url}/-/${file}`, integrity } };
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ name: manifest.name, 'dist-tags': { latest: manifest.version }, versions: { [manifest.version]: version } }));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, close: () => new Promise((resolve) => server.close(resolve)) };
}
