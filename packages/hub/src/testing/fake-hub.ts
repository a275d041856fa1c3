import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An in-process fake of the Hugging Face Hub HTTP API, for tests: it serves the routes that
 * `@huggingface/hub` (and so `@peftjs/hub`) calls, on 127.0.0.1 at a free port, from repositories
 * held in memory with real git-like semantics (commits, branches, tags, LFS files).
 *
 * Routes: repo info (`/api/{models,datasets,spaces}/<repo>/revision/<rev>`), tree listing with
 * pagination (`/tree/<rev>/<path>?recursive=`), `paths-info`, `resolve` (Range, ETag,
 * X-Repo-Commit, X-Linked-Etag/X-Linked-Size, LFS files redirected to a CDN route), repo
 * creation, `preupload`, the LFS batch API with basic uploads, and ndjson commits.
 *
 * Failure modes: unknown repo/revision/file → 404 with the Hub's X-Error-Code; a token that is
 * not in `tokens` → 401; a private repo without a valid token → 401 RepoNotFound; writes without
 * a valid token → 401; plus injected faults (`addFault`): an HTTP status on matching requests, a
 * connection dropped halfway through a file's body, or a body with corrupted bytes.
 *
 * ```ts
 * const hub = await startFakeHub({ tokens: ['hf_test'] });
 * hub.createRepo('org/model');
 * const commit = hub.commit('org/model', { 'config.json': '{}' });
 * await downloadRepo('org/model', { endpoint: hub.url, cacheDir, token: 'hf_test' });
 * await hub.close();
 * ```
 */
export interface FakeHub {
  /** Base URL, e.g. `http://127.0.0.1:38123` (pass as `endpoint` or `HF_ENDPOINT`). */
  readonly url: string;
  /** Every request received, in order. */
  readonly requests: readonly FakeHubRequest[];
  /** Called for each request before it is answered (for example to move a branch mid-download). */
  onRequest: ((request: FakeHubRequest) => void) | undefined;
  createRepo(repoId: string, options?: { type?: FakeRepoType; private?: boolean }): void;
  /** Commits files (and deletions) on a branch; returns the new commit sha. */
  commit(
    repoId: string,
    files: Readonly<Record<string, string | Uint8Array>>,
    options?: { type?: FakeRepoType; branch?: string; message?: string; deletes?: readonly string[] },
  ): string;
  createBranch(repoId: string, branch: string, revision: string, options?: { type?: FakeRepoType }): void;
  createTag(repoId: string, tag: string, revision: string, options?: { type?: FakeRepoType }): void;
  /** Points a branch at a commit (as a force-push would). */
  moveBranch(repoId: string, branch: string, commit: string, options?: { type?: FakeRepoType }): void;
  /** The commit sha a branch, tag or sha resolves to, or undefined. */
  resolveRevision(repoId: string, revision?: string, options?: { type?: FakeRepoType }): string | undefined;
  readFile(repoId: string, path: string, revision?: string, options?: { type?: FakeRepoType }): Uint8Array | undefined;
  listFiles(repoId: string, revision?: string, options?: { type?: FakeRepoType }): string[];
  /** Commit messages of a branch, newest first. */
  commitMessages(repoId: string, revision?: string, options?: { type?: FakeRepoType }): string[];
  addFault(fault: FakeHubFault): void;
  clearFaults(): void;
  close(): Promise<void>;
}

export type FakeRepoType = 'model' | 'dataset' | 'space';

export interface FakeHubOptions {
  /** Tokens the fake accepts. A request with any other `Authorization: Bearer` token gets 401. */
  tokens?: readonly string[];
  /** Entries per page of a tree listing (the rest come through `Link: rel="next"`). Default 50. */
  pageSize?: number;
  /** Files at least this large are stored as LFS (as are *.safetensors, *.bin, *.pt). Default 10 000. */
  lfsThreshold?: number;
}

export interface FakeHubRequest {
  readonly method: string;
  /** Path and query, as received. */
  readonly url: string;
  /** The bearer token sent, if any (this is a test fake: it records it so tests can assert on it). */
  readonly token: string | undefined;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export type FakeHubFault =
  | {
      /** Answer matching requests with this HTTP status (and a JSON error body). */
      kind: 'status';
      status: number;
      /** Matched against the decoded URL path (a string must be contained in it). */
      path: string | RegExp;
      method?: string;
      /** How many requests it applies to (default 1; `Infinity` for all). */
      times?: number;
    }
  | {
      /**
       * 'drop': send the headers and half of the file's bytes, then cut the connection.
       * 'corrupt': send the full length with the bytes flipped. Both apply to responses carrying
       * the content of repo file `file` (not to 1-byte range probes).
       */
      kind: 'drop' | 'corrupt';
      file: string;
      times?: number;
    };

interface StoredFile {
  readonly content: Uint8Array;
  /** git blob sha1 (of the content, or of the LFS pointer for LFS files) */
  readonly oid: string;
  readonly lfs: { readonly oid: string; readonly size: number; readonly pointerSize: number } | undefined;
}

interface Commit {
  readonly sha: string;
  readonly message: string;
  readonly parent: string | undefined;
  readonly files: ReadonlyMap<string, StoredFile>;
  readonly date: string;
}

interface Repo {
  readonly type: FakeRepoType;
  readonly name: string;
  readonly private: boolean;
  readonly id: string;
  readonly commits: Map<string, Commit>;
  readonly branches: Map<string, string>;
  readonly tags: Map<string, string>;
}

const LFS_EXTENSIONS = ['.safetensors', '.bin', '.pt', '.pth', '.h5', '.onnx', '.msgpack', '.gguf'];
const SHA_PATTERN = /^[0-9a-f]{40}$/;

export async function startFakeHub(options: FakeHubOptions = {}): Promise<FakeHub> {
  const tokens = new Set(options.tokens ?? []);
  const pageSize = options.pageSize ?? 50;
  const lfsThreshold = options.lfsThreshold ?? 10_000;
  const repos = new Map<string, Repo>();
  const lfsStore = new Map<string, Uint8Array>();
  const requests: FakeHubRequest[] = [];
  const faults: Array<FakeHubFault & { remaining: number }> = [];
  let commitCounter = 0;
  let baseUrl = '';

  const key = (type: FakeRepoType, name: string) => `${type}:${name}`;
  const getRepo = (repoId: string, type: FakeRepoType = 'model'): Repo => {
    const repo = repos.get(key(type, repoId));
    if (repo === undefined) {
      throw new Error(`fake hub: no ${type} repo ${repoId}`);
    }
    return repo;
  };
  const resolve = (repo: Repo, revision: string): string | undefined => {
    if (SHA_PATTERN.test(revision) && repo.commits.has(revision)) {
      return revision;
    }
    return repo.branches.get(revision) ?? repo.tags.get(revision);
  };

  const storeFile = (path: string, content: Uint8Array): StoredFile => {
    const isLfs = content.byteLength >= lfsThreshold || LFS_EXTENSIONS.some((extension) => path.endsWith(extension));
    if (!isLfs) {
      return { content, oid: gitBlobSha1(content), lfs: undefined };
    }
    const sha256 = createHash('sha256').update(content).digest('hex');
    const pointer = new TextEncoder().encode(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${content.byteLength}\n`);
    lfsStore.set(sha256, content);
    return { content, oid: gitBlobSha1(pointer), lfs: { oid: sha256, size: content.byteLength, pointerSize: pointer.byteLength } };
  };

  const makeCommit = (repo: Repo, parent: string | undefined, files: Map<string, StoredFile>, message: string): string => {
    commitCounter++;
    const sha = createHash('sha1')
      .update(`${repo.name}\n${commitCounter}\n${randomBytes(8).toString('hex')}`)
      .digest('hex');
    repo.commits.set(sha, { sha, message, parent, files, date: new Date(Date.UTC(2024, 0, 1, 0, 0, commitCounter)).toISOString() });
    return sha;
  };

  const applyCommit = (
    repo: Repo,
    branch: string,
    additions: ReadonlyArray<[string, StoredFile]>,
    deletions: readonly string[],
    folderDeletions: readonly string[],
    message: string,
  ): string => {
    const head = repo.branches.get(branch);
    if (head === undefined) {
      throw new Error(`fake hub: no branch ${branch}`);
    }
    const files = new Map(repo.commits.get(head)!.files);
    for (const path of deletions) {
      files.delete(path);
    }
    for (const folder of folderDeletions) {
      for (const path of [...files.keys()]) {
        if (path.startsWith(`${folder.replace(/\/$/, '')}/`)) {
          files.delete(path);
        }
      }
    }
    for (const [path, file] of additions) {
      files.set(path, file);
    }
    const sha = makeCommit(repo, head, files, message);
    repo.branches.set(branch, sha);
    return sha;
  };

  const createRepoInternal = (type: FakeRepoType, name: string, isPrivate: boolean): Repo => {
    const repo: Repo = {
      type,
      name,
      private: isPrivate,
      id: randomBytes(12).toString('hex'),
      commits: new Map(),
      branches: new Map(),
      tags: new Map(),
    };
    const gitattributes = storeFile('.gitattributes', new TextEncoder().encode('*.safetensors filter=lfs diff=lfs merge=lfs -text\n'));
    const sha = makeCommit(repo, undefined, new Map([['.gitattributes', gitattributes]]), 'initial commit');
    repo.branches.set('main', sha);
    repos.set(key(type, name), repo);
    return repo;
  };

  const takeFault = (predicate: (fault: FakeHubFault) => boolean): FakeHubFault | undefined => {
    const index = faults.findIndex((fault) => fault.remaining > 0 && predicate(fault));
    if (index < 0) {
      return undefined;
    }
    faults[index].remaining--;
    return faults[index];
  };

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) {
        sendJson(response, 500, { error: `fake hub internal error: ${String(error)}` });
      } else {
        response.destroy();
      }
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = request.method ?? 'GET';
    const url = new URL(request.url ?? '/', baseUrl);
    const authorization = request.headers.authorization;
    const token = authorization?.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : undefined;
    const record: FakeHubRequest = { method, url: `${url.pathname}${url.search}`, token, headers: { ...request.headers } };
    requests.push(record);
    hub.onRequest?.(record);

    const segments = url.pathname
      .split('/')
      .filter((segment) => segment !== '')
      .map((segment) => decodeURIComponent(segment));
    const decodedPath = `/${segments.join('/')}`;
    const statusFault = takeFault(
      (fault) =>
        fault.kind === 'status' &&
        (fault.method === undefined || fault.method === method) &&
        (typeof fault.path === 'string' ? decodedPath.includes(fault.path) : fault.path.test(decodedPath)),
    );
    if (statusFault !== undefined && statusFault.kind === 'status') {
      sendJson(response, statusFault.status, { error: `injected fault: HTTP ${statusFault.status}` });
      return;
    }

    // The LFS CDN: presigned, no authorization needed.
    if (segments[0] === 'cdn-lfs' && segments.length === 2) {
      const content = lfsStore.get(segments[1]);
      if (content === undefined) {
        sendJson(response, 404, { error: 'no such object' });
        return;
      }
      serveContent(request, response, content, { ETag: `"${segments[1]}"` }, url.searchParams.get('file') ?? '');
      return;
    }
    if (segments[0] === 'lfs-upload' && segments.length === 2 && method === 'PUT') {
      const body = await readBody(request);
      const sha256 = createHash('sha256').update(body).digest('hex');
      if (sha256 !== segments[1]) {
        sendJson(response, 400, { error: 'sha256 mismatch' });
        return;
      }
      lfsStore.set(sha256, body);
      response.writeHead(200, { ETag: `"${sha256}"` }).end();
      return;
    }

    if (token !== undefined && !tokens.has(token)) {
      sendJson(response, 401, { error: 'Invalid credentials in Authorization header' });
      return;
    }
    const authenticated = token !== undefined;

    if (segments[0] === 'api' && segments[1] === 'repos' && segments[2] === 'create' && method === 'POST') {
      if (!authenticated) {
        sendJson(response, 401, { error: 'You must be authenticated to create a repo' });
        return;
      }
      const body = JSON.parse(new TextDecoder().decode(await readBody(request))) as {
        name: string;
        organization?: string;
        type?: FakeRepoType;
        visibility?: string;
        private?: boolean;
      };
      const type = body.type ?? 'model';
      const name = body.organization === undefined ? body.name : `${body.organization}/${body.name}`;
      if (repos.has(key(type, name))) {
        sendJson(response, 409, { error: `You already created this ${type} repo`, url: `${baseUrl}/${name}` });
        return;
      }
      const repo = createRepoInternal(type, name, body.visibility === 'private' || body.private === true);
      sendJson(response, 200, { url: `${baseUrl}/${repoPrefix(type)}${name}`, name, id: repo.id });
      return;
    }

    if (segments[0] === 'api' && (segments[1] === 'models' || segments[1] === 'datasets' || segments[1] === 'spaces')) {
      const type = segments[1].slice(0, -1) as FakeRepoType;
      const actions = ['revision', 'tree', 'paths-info', 'preupload', 'commit'];
      const located = locateRepo(type, segments, 2, actions);
      if (located === undefined) {
        sendJson(response, 404, { error: 'Not found' });
        return;
      }
      const { repo, repoName, rest } = located;
      if (repo === undefined || (repo.private && !authenticated)) {
        sendJson(response, repo === undefined ? 404 : 401, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound' });
        return;
      }
      const [action, revision = 'main', ...pathParts] = rest;
      if (action === 'preupload' || action === 'commit') {
        await handleWrite(request, response, repo, action, revision, authenticated);
        return;
      }
      const commitSha = resolve(repo, revision === 'HEAD' ? 'main' : revision);
      if (commitSha === undefined) {
        sendJson(response, 404, { error: `Invalid rev id: ${revision}` }, { 'X-Error-Code': 'RevisionNotFound' });
        return;
      }
      const commit = repo.commits.get(commitSha)!;
      if (action === 'revision') {
        sendJson(response, 200, {
          _id: repo.id,
          id: repoName,
          private: repo.private,
          sha: commitSha,
          lastModified: commit.date,
          gated: false,
          disabled: false,
          downloads: 0,
          likes: 0,
          tags: [],
          siblings: [...commit.files.keys()].sort().map((rfilename) => ({ rfilename })),
        });
        return;
      }
      if (action === 'tree') {
        const folder = pathParts.join('/');
        const recursive = url.searchParams.get('recursive') === 'true' || url.searchParams.get('recursive') === '1';
        const entries = treeEntries(commit, folder, recursive);
        if (folder !== '' && entries.length === 0 && !commit.files.has(folder)) {
          sendJson(response, 404, { error: `Entry not found: ${folder}` }, { 'X-Error-Code': 'EntryNotFound' });
          return;
        }
        const cursor = Number(url.searchParams.get('cursor') ?? '0');
        const page = entries.slice(cursor, cursor + pageSize);
        const headers: Record<string, string> = {};
        if (cursor + pageSize < entries.length) {
          const next = new URL(url.href);
          next.searchParams.set('cursor', String(cursor + pageSize));
          headers.Link = `<${next.href}>; rel="next"`;
        }
        sendJson(response, 200, page, headers);
        return;
      }
      if (action === 'paths-info' && method === 'POST') {
        const body = JSON.parse(new TextDecoder().decode(await readBody(request))) as { paths: string[] };
        const entries = body.paths.flatMap((path) => {
          const file = commit.files.get(path);
          if (file !== undefined) {
            return [fileEntry(path, file)];
          }
          const isFolder = [...commit.files.keys()].some((name) => name.startsWith(`${path}/`));
          return isFolder ? [{ type: 'directory', path, oid: folderOid(commit, path), size: 0 }] : [];
        });
        sendJson(response, 200, entries);
        return;
      }
      sendJson(response, 404, { error: 'Not found' });
      return;
    }

    // LFS batch API: /<repo>.git/info/lfs/objects/batch
    const lfsMatch = /^\/(?:(datasets|spaces)\/)?(.+)\.git\/info\/lfs\/objects\/batch$/.exec(decodedPath);
    if (lfsMatch !== null && method === 'POST') {
      const type = (lfsMatch[1]?.slice(0, -1) ?? 'model') as FakeRepoType;
      const repo = repos.get(key(type, lfsMatch[2]));
      if (repo === undefined) {
        sendJson(response, 404, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound' });
        return;
      }
      if (!authenticated) {
        sendJson(response, 401, { error: 'Unauthorized' });
        return;
      }
      const body = JSON.parse(new TextDecoder().decode(await readBody(request))) as { objects: Array<{ oid: string; size: number }> };
      sendJson(
        response,
        200,
        {
          transfer: 'basic',
          objects: body.objects.map((object) =>
            lfsStore.has(object.oid)
              ? { oid: object.oid, size: object.size }
              : { oid: object.oid, size: object.size, authenticated: true, actions: { upload: { href: `${baseUrl}/lfs-upload/${object.oid}` } } },
          ),
        },
        { 'Content-Type': 'application/vnd.git-lfs+json' },
      );
      return;
    }

    // File downloads: /<repo>/resolve/<revision>/<path>, /datasets/<repo>/resolve/...
    const type: FakeRepoType = segments[0] === 'datasets' ? 'dataset' : segments[0] === 'spaces' ? 'space' : 'model';
    const located = locateRepo(type, segments, type === 'model' ? 0 : 1, ['resolve', 'raw']);
    if (located !== undefined && (method === 'GET' || method === 'HEAD')) {
      const { repo, rest } = located;
      if (repo === undefined || (repo.private && !authenticated)) {
        sendJson(response, repo === undefined ? 404 : 401, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound' });
        return;
      }
      const [, revision = 'main', ...pathParts] = rest;
      const commitSha = resolve(repo, revision);
      if (commitSha === undefined) {
        sendJson(response, 404, { error: `Invalid rev id: ${revision}` }, { 'X-Error-Code': 'RevisionNotFound' });
        return;
      }
      const path = pathParts.join('/');
      const file = repo.commits.get(commitSha)!.files.get(path);
      if (file === undefined) {
        sendJson(response, 404, { error: 'Entry not found' }, { 'X-Error-Code': 'EntryNotFound', 'X-Repo-Commit': commitSha });
        return;
      }
      if (file.lfs !== undefined && rest[0] === 'resolve') {
        response.writeHead(302, {
          Location: `${baseUrl}/cdn-lfs/${file.lfs.oid}?file=${encodeURIComponent(path)}`,
          'X-Repo-Commit': commitSha,
          'X-Linked-Etag': `"${file.lfs.oid}"`,
          'X-Linked-Size': String(file.lfs.size),
          ETag: `"${file.oid}"`,
        });
        response.end();
        return;
      }
      serveContent(request, response, file.content, { ETag: `"${file.oid}"`, 'X-Repo-Commit': commitSha }, path);
      return;
    }

    sendJson(response, 404, { error: `fake hub: no route for ${method} ${url.pathname}` });
  }

  async function handleWrite(
    request: IncomingMessage,
    response: ServerResponse,
    repo: Repo,
    action: 'preupload' | 'commit',
    branch: string,
    authenticated: boolean,
  ): Promise<void> {
    if (!authenticated) {
      sendJson(response, 401, { error: 'Unauthorized' });
      return;
    }
    if (!repo.branches.has(branch)) {
      sendJson(response, 404, { error: `Invalid rev id: ${branch}` }, { 'X-Error-Code': 'RevisionNotFound' });
      return;
    }
    const body = new TextDecoder().decode(await readBody(request));
    if (action === 'preupload') {
      const { files } = JSON.parse(body) as { files: Array<{ path: string; size: number }> };
      sendJson(response, 200, {
        files: files.map((file) => ({
          path: file.path,
          uploadMode: file.size >= lfsThreshold || LFS_EXTENSIONS.some((extension) => file.path.endsWith(extension)) ? 'lfs' : 'regular',
          shouldIgnore: false,
        })),
      });
      return;
    }
    const lines = body
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as { key: string; value: Record<string, unknown> });
    let message = '';
    const additions: Array<[string, StoredFile]> = [];
    const deletions: string[] = [];
    const folderDeletions: string[] = [];
    for (const { key: lineKey, value } of lines) {
      const path = value.path as string | undefined;
      if (lineKey !== 'header' && (typeof path !== 'string' || !isSafeRepoPath(path))) {
        sendJson(response, 400, { error: `invalid path ${JSON.stringify(path)}` });
        return;
      }
      if (lineKey === 'header') {
        message = String(value.summary ?? '');
        if (value.parentCommit !== undefined && value.parentCommit !== repo.branches.get(branch)) {
          sendJson(response, 412, { error: 'parentCommit is not the head of the branch' });
          return;
        }
      } else if (lineKey === 'file') {
        const content = value.encoding === 'base64' ? new Uint8Array(Buffer.from(String(value.content), 'base64')) : new TextEncoder().encode(String(value.content));
        additions.push([path!, storeFile(path!, content)]);
      } else if (lineKey === 'lfsFile') {
        const content = lfsStore.get(String(value.oid));
        if (content === undefined || content.byteLength !== value.size) {
          sendJson(response, 422, { error: `LFS object ${String(value.oid)} was not uploaded` });
          return;
        }
        additions.push([path!, storeFile(path!, content)]);
      } else if (lineKey === 'deletedFile') {
        deletions.push(path!);
      } else if (lineKey === 'deletedFolder') {
        folderDeletions.push(path!);
      } else {
        sendJson(response, 400, { error: `unknown commit line ${lineKey}` });
        return;
      }
    }
    const sha = applyCommit(repo, branch, additions, deletions, folderDeletions, message);
    sendJson(response, 200, {
      success: true,
      commitOid: sha,
      commitUrl: `${baseUrl}/${repoPrefix(repo.type)}${repo.name}/commit/${sha}`,
      hookOutput: '',
    });
  }

  /** Finds `<name>/<action>` in the path, trying a two-part repo name first, then a one-part one. */
  function locateRepo(
    type: FakeRepoType,
    segments: readonly string[],
    start: number,
    actions: readonly string[],
  ): { repo: Repo | undefined; repoName: string; rest: string[] } | undefined {
    for (const parts of [2, 1]) {
      const action = segments[start + parts];
      if (action !== undefined && actions.includes(action)) {
        const repoName = segments.slice(start, start + parts).join('/');
        return { repo: repos.get(key(type, repoName)), repoName, rest: segments.slice(start + parts) };
      }
    }
    return undefined;
  }

  function serveContent(request: IncomingMessage, response: ServerResponse, content: Uint8Array, headers: Record<string, string>, file: string): void {
    const size = content.byteLength;
    let start = 0;
    let end = size - 1;
    let status = 200;
    const range = /^bytes=(\d*)-(\d*)$/.exec(request.headers.range ?? '');
    if (range !== null) {
      start = range[1] === '' ? Math.max(0, size - Number(range[2])) : Number(range[1]);
      end = range[1] === '' || range[2] === '' ? size - 1 : Math.min(Number(range[2]), size - 1);
      if (start >= size && size > 0) {
        response.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
        return;
      }
      status = 206;
    }
    let body = content.subarray(start, Math.max(start, end + 1));
    const contentHeaders: Record<string, string> = {
      ...headers,
      'Accept-Ranges': 'bytes',
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(body.byteLength),
      ...(status === 206 ? { 'Content-Range': `bytes ${start}-${start + body.byteLength - 1}/${size}` } : {}),
    };
    if (request.method === 'HEAD') {
      response.writeHead(status, contentHeaders).end();
      return;
    }
    const fault = body.byteLength > 1 ? takeFault((candidate) => candidate.kind !== 'status' && candidate.file === file) : undefined;
    if (fault?.kind === 'drop') {
      response.writeHead(status, contentHeaders);
      response.write(body.subarray(0, Math.floor(body.byteLength / 2)), () => {
        setTimeout(() => response.socket?.destroy(), 10);
      });
      return;
    }
    if (fault?.kind === 'corrupt') {
      body = body.map((byte) => byte ^ 0xff);
    }
    response.writeHead(status, contentHeaders).end(body);
  }

  function treeEntries(commit: Commit, folder: string, recursive: boolean): object[] {
    const prefix = folder === '' ? '' : `${folder.replace(/\/$/, '')}/`;
    const files: object[] = [];
    const folders = new Set<string>();
    for (const [path, file] of [...commit.files.entries()].sort(([left], [right]) => (left < right ? -1 : 1))) {
      if (!path.startsWith(prefix)) {
        continue;
      }
      const relative = path.slice(prefix.length);
      const parts = relative.split('/');
      for (let depth = 1; depth < parts.length; depth++) {
        if (!recursive && depth > 1) {
          break;
        }
        folders.add(prefix + parts.slice(0, depth).join('/'));
      }
      if (recursive || parts.length === 1) {
        files.push(fileEntry(path, file));
      }
    }
    const folderEntries = [...folders].sort().map((path) => ({ type: 'directory', path, oid: folderOid(commit, path), size: 0 }));
    return [...folderEntries, ...files];
  }

  const hub: FakeHub = {
    url: '',
    requests,
    onRequest: undefined,
    createRepo(repoId, repoOptions = {}) {
      createRepoInternal(repoOptions.type ?? 'model', repoId, repoOptions.private ?? false);
    },
    commit(repoId, files, commitOptions = {}) {
      const repo = getRepo(repoId, commitOptions.type);
      const additions = Object.entries(files).map(([path, content]): [string, StoredFile] => {
        if (!isSafeRepoPath(path)) {
          throw new Error(`fake hub: invalid path ${path}`);
        }
        return [path, storeFile(path, typeof content === 'string' ? new TextEncoder().encode(content) : content.slice())];
      });
      return applyCommit(repo, commitOptions.branch ?? 'main', additions, commitOptions.deletes ?? [], [], commitOptions.message ?? `commit ${commitCounter + 1}`);
    },
    createBranch(repoId, branch, revision, branchOptions = {}) {
      const repo = getRepo(repoId, branchOptions.type);
      const sha = resolve(repo, revision);
      if (sha === undefined) {
        throw new Error(`fake hub: no revision ${revision}`);
      }
      repo.branches.set(branch, sha);
    },
    createTag(repoId, tag, revision, tagOptions = {}) {
      const repo = getRepo(repoId, tagOptions.type);
      const sha = resolve(repo, revision);
      if (sha === undefined) {
        throw new Error(`fake hub: no revision ${revision}`);
      }
      repo.tags.set(tag, sha);
    },
    moveBranch(repoId, branch, commit, moveOptions = {}) {
      const repo = getRepo(repoId, moveOptions.type);
      if (!repo.commits.has(commit)) {
        throw new Error(`fake hub: no commit ${commit}`);
      }
      repo.branches.set(branch, commit);
    },
    resolveRevision(repoId, revision = 'main', resolveOptions = {}) {
      return resolve(getRepo(repoId, resolveOptions.type), revision);
    },
    readFile(repoId, path, revision = 'main', readOptions = {}) {
      const repo = getRepo(repoId, readOptions.type);
      const sha = resolve(repo, revision);
      return sha === undefined ? undefined : repo.commits.get(sha)!.files.get(path)?.content.slice();
    },
    listFiles(repoId, revision = 'main', listOptions = {}) {
      const repo = getRepo(repoId, listOptions.type);
      const sha = resolve(repo, revision);
      return sha === undefined ? [] : [...repo.commits.get(sha)!.files.keys()].sort();
    },
    commitMessages(repoId, revision = 'main', messageOptions = {}) {
      const repo = getRepo(repoId, messageOptions.type);
      const messages: string[] = [];
      for (let sha = resolve(repo, revision); sha !== undefined; sha = repo.commits.get(sha)!.parent) {
        messages.push(repo.commits.get(sha)!.message);
      }
      return messages;
    },
    addFault(fault) {
      faults.push({ ...fault, remaining: fault.times ?? 1 });
    },
    clearFaults() {
      faults.length = 0;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
    },
  };

  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(0, '127.0.0.1', () => resolveListen());
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  (hub as { url: string }).url = baseUrl;
  return hub;
}

function repoPrefix(type: FakeRepoType): string {
  return type === 'model' ? '' : `${type}s/`;
}

function fileEntry(path: string, file: StoredFile): object {
  return {
    type: 'file',
    path,
    oid: file.oid,
    size: file.content.byteLength,
    ...(file.lfs === undefined ? {} : { lfs: file.lfs }),
  };
}

function folderOid(commit: Commit, folder: string): string {
  const hash = createHash('sha1');
  for (const [path, file] of commit.files) {
    if (path.startsWith(`${folder}/`)) {
      hash.update(`${path}\0${file.oid}\n`);
    }
  }
  return hash.digest('hex');
}

/** The git object id of a blob: sha1("blob <size>\0" + content). */
export function gitBlobSha1(content: Uint8Array): string {
  return createHash('sha1').update(`blob ${content.byteLength}\0`).update(content).digest('hex');
}

function isSafeRepoPath(path: string): boolean {
  return path !== '' && !path.startsWith('/') && !path.includes('\\') && path.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

async function readBody(request: IncomingMessage): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) {
    chunks.push(chunk as Buffer);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)), ...headers });
  response.end(text);
}
