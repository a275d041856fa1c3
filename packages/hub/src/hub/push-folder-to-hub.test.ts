import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { HubAuthenticationError } from '../errors/hub-authentication-error';
import { HubNotFoundError } from '../errors/hub-not-found-error';
import { HubRequestError } from '../errors/hub-request-error';
import { InvalidHubArgumentError } from '../errors/invalid-hub-argument-error';
import { startFakeHub, type FakeHub } from '../testing/fake-hub';
import { downloadRepo } from './download-repo';
import { pushFolderToHub } from './push-folder-to-hub';

const TOKEN = 'hf_push_token_secret';
let hub: FakeHub;
let root: string;
let folder: string;
let caseNumber = 0;
const weights = new Uint8Array(25_000).map((_, index) => (index * 7) % 256);

beforeAll(async () => {
  hub = await startFakeHub({ tokens: [TOKEN] });
  root = await mkdtemp(join(tmpdir(), 'peftjs-hub-push-'));
  folder = join(root, 'adapter');
  await mkdir(join(folder, 'other'), { recursive: true });
  await mkdir(join(folder, '.git'), { recursive: true });
  await writeFile(join(folder, 'adapter_config.json'), '{"peft_type":"LORA"}');
  await writeFile(join(folder, 'adapter_model.safetensors'), weights);
  await writeFile(join(folder, 'README.md'), '---\nlibrary_name: peft\n---\n');
  await writeFile(join(folder, 'other', 'adapter_config.json'), '{"peft_type":"IA3"}');
  await writeFile(join(folder, '.git', 'HEAD'), 'ref: refs/heads/main\n');
});
afterAll(async () => {
  await hub.close();
  await rm(root, { recursive: true, force: true });
});
beforeEach(() => {
  caseNumber++;
  vi.stubEnv('HF_HOME', join(root, 'no-home'));
  vi.stubEnv('HF_TOKEN', '');
  vi.stubEnv('HUGGING_FACE_HUB_TOKEN', '');
  vi.stubEnv('HF_TOKEN_PATH', '');
  vi.stubEnv('HF_ENDPOINT', '');
  vi.stubEnv('HF_HUB_OFFLINE', '');
  hub.clearFaults();
});
afterEach(() => {
  vi.unstubAllEnvs();
});

describe('pushFolderToHub', () => {
  it('creates the repo and commits the folder (regular and LFS files, subfolders, no .git)', async () => {
    const repoId = `me/pushed-${caseNumber}`;
    const result = await pushFolderToHub(folder, repoId, { endpoint: hub.url, token: TOKEN, commitMessage: 'Add adapter' });
    expect(result.files).toEqual(['README.md', 'adapter_config.json', 'adapter_model.safetensors', 'other/adapter_config.json']);
    expect(result.commit).toBe(hub.resolveRevision(repoId));
    expect(result.commitUrl).toContain(result.commit);
    expect(hub.listFiles(repoId)).toEqual(['.gitattributes', 'README.md', 'adapter_config.json', 'adapter_model.safetensors', 'other/adapter_config.json']);
    expect(hub.readFile(repoId, 'adapter_model.safetensors')).toEqual(weights);
    expect(hub.commitMessages(repoId)[0]).toBe('Add adapter');
    // The LFS upload went to the upload URL without the token; everything else carried it.
    const uploads = hub.requests.filter((request) => request.url.startsWith('/lfs-upload/'));
    expect(uploads).toHaveLength(1);
    expect(hub.requests.filter((request) => request.url.includes(`pushed-${caseNumber}`)).every((request) => request.token === TOKEN)).toBe(true);

    // And it downloads back identically.
    const snapshot = await downloadRepo(repoId, { endpoint: hub.url, cacheDir: join(root, `cache-${caseNumber}`) });
    expect(snapshot.commit).toBe(result.commit);
    const { readFile } = await import('node:fs/promises');
    expect(new Uint8Array(await readFile(join(snapshot.folder, 'adapter_model.safetensors')))).toEqual(weights);
  });

  it('pushes again to an existing repo, into a sub-folder, honouring patterns and HF_TOKEN / HF_ENDPOINT', async () => {
    const repoId = `me/again-${caseNumber}`;
    hub.createRepo(repoId);
    vi.stubEnv('HF_TOKEN', TOKEN);
    vi.stubEnv('HF_ENDPOINT', hub.url);
    const result = await pushFolderToHub(folder, repoId, { pathInRepo: 'checkpoints/step-1', allowPatterns: '*.json', ignorePatterns: 'other/*' });
    expect(result.files).toEqual(['checkpoints/step-1/adapter_config.json']);
    expect(hub.listFiles(repoId)).toEqual(['.gitattributes', 'checkpoints/step-1/adapter_config.json']);
    await pushFolderToHub(folder, repoId, { allowPatterns: 'README.md' });
    expect(hub.commitMessages(repoId)).toHaveLength(3);
  });

  it('creates a private repo when asked', async () => {
    const repoId = `me/private-${caseNumber}`;
    await pushFolderToHub(folder, repoId, { endpoint: hub.url, token: TOKEN, private: true, allowPatterns: '*.json' });
    await expect(downloadRepo(repoId, { endpoint: hub.url, cacheDir: join(root, `cache-${caseNumber}`) })).rejects.toThrow(HubNotFoundError);
    await expect(downloadRepo(repoId, { endpoint: hub.url, cacheDir: join(root, `cache-${caseNumber}`), token: TOKEN })).resolves.toBeDefined();
  });

  it('reports missing or refused credentials without showing the token', async () => {
    await expect(pushFolderToHub(folder, `me/anonymous-${caseNumber}`, { endpoint: hub.url })).rejects.toSatisfy(
      (error) => HubAuthenticationError.isInstance(error) && /no token was given/.test(error.message),
    );
    const badToken = 'hf_refused_push_token';
    const error = await pushFolderToHub(folder, `me/refused-${caseNumber}`, { endpoint: hub.url, token: badToken }).catch((thrown: unknown) => thrown);
    expect(HubAuthenticationError.isInstance(error)).toBe(true);
    expect(inspect(error, { depth: 10 })).not.toContain(badToken);
  });

  it('names a branch that does not exist, and refuses offline mode and empty folders', async () => {
    await expect(pushFolderToHub(folder, `me/branch-${caseNumber}`, { endpoint: hub.url, token: TOKEN, revision: 'nope' })).rejects.toSatisfy(
      (error) => HubNotFoundError.isInstance(error) && error.revision === 'nope',
    );
    await expect(pushFolderToHub(folder, `me/offline-${caseNumber}`, { endpoint: hub.url, token: TOKEN, offline: true })).rejects.toThrow(HubRequestError);
    const empty = join(root, 'empty');
    await mkdir(empty, { recursive: true });
    await expect(pushFolderToHub(empty, `me/empty-${caseNumber}`, { endpoint: hub.url, token: TOKEN })).rejects.toThrow(InvalidHubArgumentError);
    await expect(pushFolderToHub(join(root, 'missing'), `me/empty-${caseNumber}`, { endpoint: hub.url, token: TOKEN })).rejects.toThrow(InvalidHubArgumentError);
  });

  it('surfaces server failures during the commit as request errors', async () => {
    hub.addFault({ kind: 'status', status: 500, path: '/commit/' });
    await expect(pushFolderToHub(folder, `me/failing-${caseNumber}`, { endpoint: hub.url, token: TOKEN })).rejects.toSatisfy(
      (error) => HubRequestError.isInstance(error) && error.status === 500 && error.message.includes('committing'),
    );
  });
});
