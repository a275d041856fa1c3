import { createRepo, downloadFile, listFiles, modelInfo, pathsInfo, uploadFiles, HubApiError } from '@huggingface/hub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeHub, type FakeHub } from './fake-hub';

let hub: FakeHub;
const token = 'hf_fake_token';

beforeAll(async () => {
  hub = await startFakeHub({ tokens: [token], pageSize: 2 });
});
afterAll(async () => {
  await hub.close();
});

describe('fake hub, driven by @huggingface/hub itself', () => {
  it('serves repo info, paginated listings, paths-info and files (regular and LFS)', async () => {
    hub.createRepo('org/model');
    const sha = hub.commit('org/model', {
      'config.json': '{"a":1}',
      'nested/deep/file.txt': 'deep',
      'weights.safetensors': new Uint8Array([1, 2, 3, 4]),
    });
    const info = await modelInfo({ name: 'org/model', hubUrl: hub.url, additionalFields: ['sha'] });
    expect(info.sha).toBe(sha);
    const entries = [];
    for await (const entry of listFiles({ repo: 'org/model', hubUrl: hub.url, recursive: true, revision: sha })) {
      entries.push(entry);
    }
    expect(
      entries
        .filter((entry) => entry.type === 'file')
        .map((entry) => entry.path)
        .sort(),
    ).toEqual(['.gitattributes', 'config.json', 'nested/deep/file.txt', 'weights.safetensors']);
    expect(entries.find((entry) => entry.path === 'weights.safetensors')?.lfs?.size).toBe(4);
    const paths = await pathsInfo({ repo: 'org/model', hubUrl: hub.url, paths: ['config.json', 'missing'], revision: 'main' });
    expect(paths.map((entry) => entry.path)).toEqual(['config.json']);
    const regular = await downloadFile({ repo: 'org/model', path: 'config.json', hubUrl: hub.url });
    expect(await regular?.text()).toBe('{"a":1}');
    const lfs = await downloadFile({ repo: 'org/model', path: 'weights.safetensors', hubUrl: hub.url, revision: sha });
    expect(new Uint8Array(await lfs!.arrayBuffer())).toEqual(new Uint8Array([1, 2, 3, 4]));
    expect(await downloadFile({ repo: 'org/model', path: 'nope', hubUrl: hub.url })).toBeNull();
  });

  it('accepts repo creation and commits with regular and LFS files', async () => {
    await createRepo({ repo: 'org/pushed', hubUrl: hub.url, accessToken: token });
    await expect(createRepo({ repo: 'org/pushed', hubUrl: hub.url, accessToken: token })).rejects.toSatisfy((error) => error instanceof HubApiError && error.statusCode === 409);
    const big = new Uint8Array(20_000).map((_, index) => index % 251);
    const output = await uploadFiles({
      repo: 'org/pushed',
      hubUrl: hub.url,
      accessToken: token,
      files: [
        { path: 'adapter_config.json', content: new Blob(['{}']) },
        { path: 'adapter_model.safetensors', content: new Blob([big]) },
      ],
      commitTitle: 'upload',
    });
    expect(output?.commit.oid).toBe(hub.resolveRevision('org/pushed'));
    expect(hub.readFile('org/pushed', 'adapter_model.safetensors')).toEqual(big);
    expect(hub.commitMessages('org/pushed')[0]).toBe('upload');
  });

  it('answers a bad token with 401, and injected faults', async () => {
    await expect(modelInfo({ name: 'org/model', hubUrl: hub.url, accessToken: 'hf_wrong' })).rejects.toSatisfy((error) => error instanceof HubApiError && error.statusCode === 401);
    hub.addFault({ kind: 'status', status: 503, path: '/api/models/org/model/revision' });
    await expect(modelInfo({ name: 'org/model', hubUrl: hub.url })).rejects.toSatisfy((error) => error instanceof HubApiError && error.statusCode === 503);
    await expect(modelInfo({ name: 'org/model', hubUrl: hub.url })).resolves.toBeDefined();
    hub.addFault({ kind: 'drop', file: 'config.json' });
    const blob = await downloadFile({ repo: 'org/model', path: 'config.json', hubUrl: hub.url });
    await expect(blob!.text()).rejects.toThrow();
    expect(hub.requests.some((request) => request.token === 'hf_wrong')).toBe(true);
  });
});
