import { lstat, mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { scanCacheDir } from '@huggingface/hub';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { HubAuthenticationError } from '../errors/hub-authentication-error';
import { HubDownloadError } from '../errors/hub-download-error';
import { HubNotFoundError } from '../errors/hub-not-found-error';
import { HubOfflineError } from '../errors/hub-offline-error';
import { HubRequestError } from '../errors/hub-request-error';
import { HubUnreachableError } from '../errors/hub-unreachable-error';
import { InvalidHubArgumentError } from '../errors/invalid-hub-argument-error';
import { startFakeHub, gitBlobSha1, type FakeHub } from '../testing/fake-hub';
import { downloadFile, downloadRepo } from './download-repo';

const TOKEN = 'hf_secret_token_for_tests_123';
let hub: FakeHub;
let root: string;
let cacheDir: string;
let caseNumber = 0;

const weights = new Uint8Array(30_000).map((_, index) => (index * 31) % 256);

/** Each test gets its own repo and cache, so tests do not depend on each other's state. */
function freshRepo(files: Record<string, string | Uint8Array> = {}, options: { private?: boolean } = {}): { repoId: string; commit: string } {
  caseNumber++;
  const repoId = `org/model-${caseNumber}`;
  hub.createRepo(repoId, options);
  const commit = hub.commit(repoId, {
    'config.json': '{"model_type":"gpt2"}',
    'adapter/adapter_config.json': '{"peft_type":"LORA"}',
    'model.safetensors': weights,
    'README.md': '# card',
    ...files,
  });
  return { repoId, commit };
}

async function listRecursive(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true }).catch(() => [] as string[]);
  return entries.map(String).sort();
}

beforeAll(async () => {
  hub = await startFakeHub({ tokens: [TOKEN], pageSize: 2 });
  root = await mkdtemp(join(tmpdir(), 'peftjs-hub-download-'));
});
afterAll(async () => {
  await hub.close();
  await rm(root, { recursive: true, force: true });
});
beforeEach(async () => {
  cacheDir = await mkdtemp(join(root, 'cache-'));
  // Isolate from the machine's own Hugging Face settings and token.
  vi.stubEnv('HF_HOME', join(root, 'no-home'));
  vi.stubEnv('HF_TOKEN', '');
  vi.stubEnv('HUGGING_FACE_HUB_TOKEN', '');
  vi.stubEnv('HF_TOKEN_PATH', '');
  vi.stubEnv('HF_ENDPOINT', '');
  vi.stubEnv('HF_HUB_CACHE', '');
  vi.stubEnv('HUGGINGFACE_HUB_CACHE', '');
  vi.stubEnv('HF_HUB_OFFLINE', '');
  hub.onRequest = undefined;
  hub.clearFaults();
});
afterEach(() => {
  vi.unstubAllEnvs();
});

describe('downloadRepo', () => {
  it('downloads a repo into the cache layout Python uses', async () => {
    const { repoId, commit } = freshRepo();
    const snapshot = await downloadRepo(repoId, { endpoint: hub.url, cacheDir });
    const storage = join(cacheDir, `models--org--model-${caseNumber}`);
    expect(snapshot).toMatchObject({ repoId, repoType: 'model', revision: 'main', commit, fromCache: false });
    expect(snapshot.folder).toBe(join(storage, 'snapshots', commit));
    expect(snapshot.files).toEqual(['.gitattributes', 'README.md', 'adapter/adapter_config.json', 'config.json', 'model.safetensors']);
    expect(await readFile(join(storage, 'refs', 'main'), 'utf8')).toBe(commit);

    // Blobs are named by git oid (regular files) or LFS sha256; snapshot entries are relative symlinks.
    const configOid = gitBlobSha1(new TextEncoder().encode('{"model_type":"gpt2"}'));
    const { createHash } = await import('node:crypto');
    const weightsSha = createHash('sha256').update(weights).digest('hex');
    expect((await readdir(join(storage, 'blobs'))).sort()).toEqual(
      [configOid, weightsSha, ...['adapter/adapter_config.json', 'README.md', '.gitattributes'].map((path) => gitBlobSha1(hub.readFile(repoId, path)!))].sort(),
    );
    expect(await readlink(join(snapshot.folder, 'config.json'))).toBe(`../../blobs/${configOid}`);
    expect(await readlink(join(snapshot.folder, 'adapter', 'adapter_config.json'))).toBe(`../../../blobs/${gitBlobSha1(hub.readFile(repoId, 'adapter/adapter_config.json')!)}`);
    expect(new Uint8Array(await readFile(join(snapshot.folder, 'model.safetensors')))).toEqual(weights);
    expect(await readFile(join(snapshot.folder, 'adapter', 'adapter_config.json'), 'utf8')).toBe('{"peft_type":"LORA"}');

    // @huggingface/hub's own cache scanner understands the layout.
    const scanned = await scanCacheDir(cacheDir);
    expect(scanned.warnings).toEqual([]);
    const cachedRepo = scanned.repos.find((entry) => entry.id.name === repoId)!;
    expect(cachedRepo.revisions.map((revision) => [revision.commitOid, revision.refs])).toEqual([[commit, ['main']]]);
  });

  it('resolves branches, tags and commit shas, writing refs only for names', async () => {
    const { repoId, commit: first } = freshRepo();
    hub.createTag(repoId, 'v1', first);
    const second = hub.commit(repoId, { 'config.json': '{"v":2}' });
    hub.createBranch(repoId, 'dev', second);
    const storage = join(cacheDir, `models--org--model-${caseNumber}`);

    const tagged = await downloadRepo(repoId, { endpoint: hub.url, cacheDir, revision: 'v1', files: ['config.json'] });
    expect(tagged.commit).toBe(first);
    expect(await readFile(join(tagged.folder, 'config.json'), 'utf8')).toBe('{"model_type":"gpt2"}');
    const branch = await downloadRepo(repoId, { endpoint: hub.url, cacheDir, revision: 'dev', files: ['config.json'] });
    expect(branch.commit).toBe(second);
    expect(await readFile(join(branch.folder, 'config.json'), 'utf8')).toBe('{"v":2}');
    const pinned = await downloadRepo(repoId, { endpoint: hub.url, cacheDir, revision: first, files: ['README.md'] });
    expect(pinned.commit).toBe(first);
    expect((await readdir(join(storage, 'refs'))).sort()).toEqual(['dev', 'v1']);
    expect(await readFile(join(storage, 'refs', 'v1'), 'utf8')).toBe(first);
  });

  it('downloads only the files or patterns asked for', async () => {
    const { repoId } = freshRepo({ 'other/model.safetensors': new Uint8Array([1]), 'notes.txt': 'x' });
    const subset = await downloadRepo(repoId, { endpoint: hub.url, cacheDir, files: ['config.json', 'other/model.safetensors'] });
    expect(await listRecursive(subset.folder)).toEqual(['config.json', 'other', 'other/model.safetensors']);
    const patterned = await downloadRepo(repoId, { endpoint: hub.url, cacheDir: join(cacheDir, 'b'), allowPatterns: ['*.safetensors', 'adapter/'], ignorePatterns: 'other/*' });
    expect(patterned.files).toEqual(['adapter/adapter_config.json', 'model.safetensors']);
    expect(await listRecursive(patterned.folder)).toEqual(['adapter', 'adapter/adapter_config.json', 'model.safetensors']);
    await expect(downloadRepo(repoId, { endpoint: hub.url, cacheDir, files: ['a'], allowPatterns: '*' })).rejects.toThrow(InvalidHubArgumentError);
  });

  it('downloadFile returns the path of the file inside the snapshot', async () => {
    const { repoId, commit } = freshRepo();
    const path = await downloadFile(repoId, 'adapter/adapter_config.json', { endpoint: hub.url, cacheDir });
    expect(path).toBe(join(cacheDir, `models--org--model-${caseNumber}`, 'snapshots', commit, 'adapter', 'adapter_config.json'));
    expect(await readFile(path, 'utf8')).toBe('{"peft_type":"LORA"}');
  });

  it('honours HF_ENDPOINT, HF_HUB_CACHE, HF_HOME and HF_TOKEN', async () => {
    const { repoId, commit } = freshRepo({}, { private: true });
    vi.stubEnv('HF_ENDPOINT', `${hub.url}/`);
    vi.stubEnv('HF_TOKEN', TOKEN);
    vi.stubEnv('HF_HOME', join(root, `home-${caseNumber}`));
    const viaHome = await downloadRepo(repoId, { files: ['config.json'] });
    expect(viaHome.folder).toBe(join(root, `home-${caseNumber}`, 'hub', `models--org--model-${caseNumber}`, 'snapshots', commit));
    vi.stubEnv('HF_HUB_CACHE', join(root, `hub-cache-${caseNumber}`));
    const viaCache = await downloadRepo(repoId, { files: ['config.json'] });
    expect(viaCache.folder.startsWith(join(root, `hub-cache-${caseNumber}`, `models--org--model-${caseNumber}`))).toBe(true);
    expect(hub.requests.filter((request) => request.url.includes(`model-${caseNumber}`)).every((request) => request.token === TOKEN)).toBe(true);
  });

  it('reads the token file that huggingface-cli login writes', async () => {
    const { repoId } = freshRepo({}, { private: true });
    const { mkdir, writeFile } = await import('node:fs/promises');
    const home = join(root, `login-home-${caseNumber}`);
    await mkdir(home, { recursive: true });
    await writeFile(join(home, 'token'), `${TOKEN}\n`);
    vi.stubEnv('HF_HOME', home);
    await expect(downloadRepo(repoId, { endpoint: hub.url, cacheDir, files: ['config.json'] })).resolves.toBeDefined();
    await expect(downloadRepo(repoId, { endpoint: hub.url, cacheDir: join(cacheDir, 'x'), files: ['config.json'], token: false })).rejects.toThrow(HubNotFoundError);
  });

  it('serves from the cache in offline mode without any request, or names what is missing', async () => {
    const { repoId, commit } = freshRepo();
    await downloadRepo(repoId, { endpoint: hub.url, cacheDir, files: ['config.json', 'model.safetensors'] });
    const before = hub.requests.length;
    vi.stubEnv('HF_HUB_OFFLINE', '1');
    const offline = await downloadRepo(repoId, { endpoint: hub.url, cacheDir, files: ['config.json'] });
    expect(offline).toMatchObject({ commit, fromCache: true, files: ['config.json'] });
    const listed = await downloadRepo(repoId, { endpoint: hub.url, cacheDir, allowPatterns: '*.json' });
    expect(listed.files).toEqual(['config.json']);
    expect(await downloadFile(repoId, 'model.safetensors', { cacheDir })).toBe(join(offline.folder, 'model.safetensors'));
    expect(hub.requests.length).toBe(before);

    await expect(downloadRepo(repoId, { cacheDir, files: ['config.json', 'README.md'] })).rejects.toSatisfy(
      (error) =>
        HubOfflineError.isInstance(error) &&
        error.missing.join() === 'README.md' &&
        error.message.includes(`repository "${repoId}" at revision "main"`) &&
        error.message.includes('README.md'),
    );
    await expect(downloadRepo(repoId, { cacheDir, revision: 'dev' })).rejects.toSatisfy((error) => HubOfflineError.isInstance(error) && error.missing.join() === 'refs/dev');
    await expect(downloadRepo('org/never-downloaded', { cacheDir })).rejects.toThrow(HubOfflineError);
    vi.stubEnv('HF_HUB_OFFLINE', '0');
    await expect(downloadRepo(repoId, { endpoint: hub.url, cacheDir, files: ['README.md'] })).resolves.toMatchObject({ fromCache: false });
  });

  it('needs no request for files already cached at a commit sha', async () => {
    const { repoId, commit } = freshRepo();
    await downloadRepo(repoId, { endpoint: hub.url, cacheDir, revision: commit, files: ['config.json'] });
    const before = hub.requests.length;
    const again = await downloadRepo(repoId, { endpoint: hub.url, cacheDir, revision: commit, files: ['config.json'] });
    expect(again.fromCache).toBe(true);
    expect(hub.requests.length).toBe(before);
  });

  it('falls back to a complete cached snapshot when the Hub cannot be reached', async () => {
    const { repoId, commit } = freshRepo();
    await downloadRepo(repoId, { endpoint: hub.url, cacheDir, files: ['config.json'] });
    const closedPort = await new Promise<number>((resolvePort) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolvePort(port));
      });
    });
    const unreachable = `http://127.0.0.1:${closedPort}`;
    await expect(downloadRepo(repoId, { endpoint: unreachable, cacheDir, files: ['config.json'] })).resolves.toMatchObject({ commit, fromCache: true });
    await expect(downloadRepo(repoId, { endpoint: unreachable, cacheDir, files: ['README.md'] })).rejects.toSatisfy(
      (error) => HubUnreachableError.isInstance(error) && error.message.includes(`cannot reach the Hub at ${unreachable}`) && error.message.includes('HF_HUB_OFFLINE=1'),
    );
  });

  it('names the repository, revision or file that is not found', async () => {
    const { repoId } = freshRepo();
    await expect(downloadRepo('org/does-not-exist', { endpoint: hub.url, cacheDir })).rejects.toSatisfy(
      (error) => HubNotFoundError.isInstance(error) && error.repoId === 'org/does-not-exist' && error.path === undefined && error.message.includes('"org/does-not-exist"'),
    );
    await expect(downloadRepo(repoId, { endpoint: hub.url, cacheDir, revision: 'no-such-branch' })).rejects.toSatisfy(
      (error) => HubNotFoundError.isInstance(error) && error.revision === 'no-such-branch' && error.message.includes('"no-such-branch"'),
    );
    await expect(downloadFile(repoId, 'missing/file.bin', { endpoint: hub.url, cacheDir })).rejects.toSatisfy(
      (error) =>
        HubNotFoundError.isInstance(error) &&
        error.path === 'missing/file.bin' &&
        error.message === `file "missing/file.bin" in repository "${repoId}" at revision "main" was not found on ${hub.url}`,
    );
    expect(await listRecursive(cacheDir)).toEqual([]);
  });

  it('reports a refused token as an authentication error that never shows the token', async () => {
    const { repoId } = freshRepo({}, { private: true });
    const badToken = 'hf_this_token_is_wrong_and_secret';
    const error = await downloadRepo(repoId, { endpoint: hub.url, cacheDir, token: badToken }).catch((thrown: unknown) => thrown);
    expect(HubAuthenticationError.isInstance(error)).toBe(true);
    expect((error as HubAuthenticationError).status).toBe(401);
    expect((error as Error).message).toMatch(/token was refused/);
    expect(inspect(error, { depth: 10 })).not.toContain(badToken);
    expect(JSON.stringify(error)).not.toContain(badToken);
    expect(hub.requests.at(-1)?.token).toBe(badToken);

    vi.stubEnv('HF_TOKEN', badToken);
    const fromEnvironment = await downloadRepo(repoId, { endpoint: hub.url, cacheDir }).catch((thrown: unknown) => thrown);
    expect(HubAuthenticationError.isInstance(fromEnvironment)).toBe(true);
    expect(inspect(fromEnvironment, { depth: 10 })).not.toContain(badToken);

    // A token that could break a header is refused before any request, without echoing it.
    const malformed = await downloadRepo(repoId, { endpoint: hub.url, cacheDir, token: `${badToken}\nX-Evil: 1` }).catch((thrown: unknown) => thrown);
    expect(HubAuthenticationError.isInstance(malformed)).toBe(true);
    expect(inspect(malformed, { depth: 10 })).not.toContain(badToken);

    // A private repo without a token looks like a missing one, as on the real Hub.
    vi.stubEnv('HF_TOKEN', '');
    await expect(downloadRepo(repoId, { endpoint: hub.url, cacheDir })).rejects.toThrow(HubNotFoundError);
  });

  it('reports other HTTP failures as request errors with the status', async () => {
    const { repoId } = freshRepo();
    hub.addFault({ kind: 'status', status: 500, path: '/tree/' });
    await expect(downloadRepo(repoId, { endpoint: hub.url, cacheDir })).rejects.toSatisfy(
      (error) => HubRequestError.isInstance(error) && error.status === 500 && error.message.includes('listing the files'),
    );
  });

  it('leaves no cache entry when the connection drops mid-file, and a retry succeeds', async () => {
    const { repoId, commit } = freshRepo();
    hub.addFault({ kind: 'drop', file: 'model.safetensors' });
    const error = await downloadRepo(repoId, { endpoint: hub.url, cacheDir, concurrency: 1 }).catch((thrown: unknown) => thrown);
    expect(HubDownloadError.isInstance(error)).toBe(true);
    expect((error as HubDownloadError).path).toBe('model.safetensors');
    expect((error as Error).message).toMatch(/"model.safetensors".*connection failed after \d+ of 30000 bytes/);
    const storage = join(cacheDir, `models--org--model-${caseNumber}`);
    const entries = await listRecursive(storage);
    expect(entries.filter((entry) => entry.includes('incomplete') || entry.endsWith('.tmp') || entry.endsWith('.link'))).toEqual([]);
    expect(entries).not.toContain(join('snapshots', commit, 'model.safetensors'));
    expect(entries).not.toContain(join('refs', 'main'));

    const retried = await downloadRepo(repoId, { endpoint: hub.url, cacheDir });
    expect(new Uint8Array(await readFile(join(retried.folder, 'model.safetensors')))).toEqual(weights);
  });

  it('refuses corrupted content (hash mismatch) without caching it', async () => {
    const { repoId } = freshRepo();
    for (const file of ['model.safetensors', 'config.json']) {
      hub.addFault({ kind: 'corrupt', file });
      const error = await downloadFile(repoId, file, { endpoint: hub.url, cacheDir }).catch((thrown: unknown) => thrown);
      expect(HubDownloadError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(file === 'config.json' ? /git-sha1 is [0-9a-f]{40}, but the Hub listed/ : /sha256 is [0-9a-f]{64}, but the Hub listed/);
    }
    const storage = join(cacheDir, `models--org--model-${caseNumber}`);
    expect(await readdir(join(storage, 'blobs'))).toEqual([]);
  });

  it('keeps a snapshot consistent when the branch moves during the download', async () => {
    const { repoId, commit: first } = freshRepo();
    const second = hub.commit(repoId, { 'config.json': '{"moved":true}', 'model.safetensors': new Uint8Array([9, 9, 9]) });
    hub.moveBranch(repoId, 'main', first);
    let moved = false;
    hub.onRequest = (request) => {
      // As soon as the revision is resolved, someone pushes: main now points elsewhere.
      if (!moved && request.url.includes('/revision/main')) {
        moved = true;
        setImmediate(() => hub.moveBranch(repoId, 'main', second));
      }
    };
    const snapshot = await downloadRepo(repoId, { endpoint: hub.url, cacheDir });
    expect(moved).toBe(true);
    expect(hub.resolveRevision(repoId, 'main')).toBe(second);
    expect(snapshot.commit).toBe(first);
    expect(await readFile(join(snapshot.folder, 'config.json'), 'utf8')).toBe('{"model_type":"gpt2"}');
    expect(new Uint8Array(await readFile(join(snapshot.folder, 'model.safetensors')))).toEqual(weights);
    // Every request after the resolution named the commit, never the branch.
    const later = hub.requests.filter((request) => request.url.includes(`model-${caseNumber}`) && !request.url.includes('/revision/'));
    expect(later.length).toBeGreaterThan(0);
    expect(later.every((request) => request.url.includes(first) || request.url.startsWith('/cdn-lfs/'))).toBe(true);

    const next = await downloadRepo(repoId, { endpoint: hub.url, cacheDir });
    expect(next.commit).toBe(second);
    expect(await readFile(join(next.folder, 'config.json'), 'utf8')).toBe('{"moved":true}');
    expect(await readFile(join(cacheDir, `models--org--model-${caseNumber}`, 'refs', 'main'), 'utf8')).toBe(second);
    // The blob shared by both commits (README.md) is stored once.
    const readmeBlob = gitBlobSha1(new TextEncoder().encode('# card'));
    expect((await lstat(join(next.folder, 'README.md'))).isSymbolicLink()).toBe(true);
    expect(await readlink(join(next.folder, 'README.md'))).toBe(await readlink(join(snapshot.folder, 'README.md')));
    expect(await readlink(join(next.folder, 'README.md'))).toBe(`../../blobs/${readmeBlob}`);
  });

  it('rejects repo ids, revisions and paths that could escape the cache', async () => {
    for (const repoId of ['../evil', 'a/b/c', 'org/na--me', '', 'org/.hidden', 'org/name.']) {
      await expect(downloadRepo(repoId, { endpoint: hub.url, cacheDir })).rejects.toThrow(InvalidHubArgumentError);
    }
    for (const revision of ['../../etc', 'a//b', '']) {
      await expect(downloadRepo('org/name', { endpoint: hub.url, cacheDir, revision })).rejects.toThrow(InvalidHubArgumentError);
    }
    for (const path of ['../x', '/etc/passwd', 'a/../../b', 'a\\b']) {
      await expect(downloadFile('org/name', path, { endpoint: hub.url, cacheDir })).rejects.toThrow(InvalidHubArgumentError);
    }
  });

  it('downloads dataset repos into datasets--org--name', async () => {
    caseNumber++;
    hub.createRepo(`org/data-${caseNumber}`, { type: 'dataset' });
    const commit = hub.commit(`org/data-${caseNumber}`, { 'train.jsonl': '{"a":1}\n' }, { type: 'dataset' });
    const snapshot = await downloadRepo(`org/data-${caseNumber}`, { endpoint: hub.url, cacheDir, repoType: 'dataset' });
    expect(snapshot.folder).toBe(join(cacheDir, `datasets--org--data-${caseNumber}`, 'snapshots', commit));
    expect(await readFile(join(snapshot.folder, 'train.jsonl'), 'utf8')).toBe('{"a":1}\n');
  });
});
