import { datasetInfo, downloadFile as hubDownloadFile, listFiles, modelInfo, pathsInfo, spaceInfo, HubApiError } from '@huggingface/hub';
import { HubDownloadError } from '../errors/hub-download-error';
import { HubNotFoundError } from '../errors/hub-not-found-error';
import { HubOfflineError } from '../errors/hub-offline-error';
import { HubRequestError } from '../errors/hub-request-error';
import { InvalidHubArgumentError } from '../errors/invalid-hub-argument-error';
import { PeftHubError } from '../errors/peft-hub-error';
import { runPool } from '../util/run-pool';
import { createPathFilter } from './file-patterns';
import { isFile, joinRepoPath, linkSnapshotFile, listSnapshotFiles, readCachedCommit, snapshotFolder, storageFolder, writeCachedRef } from './hub-cache';
import { createHubFetch, type HubFetch } from './hub-fetch';
import { resolveCacheDir, resolveEndpoint, resolveOffline, resolveToken, type HubCacheOptions, type HubConnectionOptions } from './hub-settings';
import { COMMIT_SHA, parseRepoId, validateRepoPath, validateRevision, type HubRepoType, type ParsedRepoId } from './repo-id';
import { isConnectionError, redact, translateHubError, type HubErrorContext } from './translate-hub-error';

export interface DownloadRepoOptions extends HubConnectionOptions, HubCacheOptions {
  /** Branch, tag or commit sha. Default `main`. */
  revision?: string;
  /** Default `model`. */
  repoType?: HubRepoType;
  /** Exactly these files (each must exist). Cannot be combined with patterns. */
  files?: readonly string[];
  /** Only files matching one of these shell patterns (`*.safetensors`, `adapter_*`, `folder/`). */
  allowPatterns?: string | readonly string[];
  /** Leave out files matching one of these patterns. */
  ignorePatterns?: string | readonly string[];
  /** Files downloaded at the same time. Default 4. */
  concurrency?: number;
}

/** A repository snapshot in the cache. */
export interface RepoSnapshot {
  readonly repoId: string;
  readonly repoType: HubRepoType;
  /** The revision asked for. */
  readonly revision: string;
  /** The commit it resolved to; every file is from this commit. */
  readonly commit: string;
  /** `<cache>/<type>s--org--name/snapshots/<commit>`; the files are below it. */
  readonly folder: string;
  /** The files (repo-relative, `/`-separated) that were asked for, all present in `folder`. */
  readonly files: readonly string[];
  /** True when served from the cache without the Hub (offline mode, or the Hub unreachable). */
  readonly fromCache: boolean;
}

interface RemoteFile {
  readonly path: string;
  readonly size: number;
  /** Blob name in the cache: LFS sha256, else git blob sha1 (else a xet hash). */
  readonly etag: string;
  readonly verify: 'sha256' | 'git-sha1' | 'size';
}

/**
 * Downloads a repository (or the selected files of it) into the Hugging Face cache, in the layout
 * Python's `huggingface_hub` uses, and returns the snapshot folder.
 *
 * The revision is resolved to a commit once; every file is then fetched at that commit, so a
 * branch that moves during the download cannot mix two versions. Each file is written to a
 * temporary file, checked against the size and hash the Hub lists, then renamed into
 * `blobs/`; an interrupted or corrupted transfer leaves nothing behind, and retrying is safe.
 * `refs/<revision>` is written last. Offline (`HF_HUB_OFFLINE=1` / `offline: true`) the cache
 * alone answers, or a `HubOfflineError` names what is missing; if the Hub cannot be reached at
 * all, a complete cached snapshot of the revision is used.
 */
export async function downloadRepo(repoId: string, options: DownloadRepoOptions = {}): Promise<RepoSnapshot> {
  const repo = parseRepoId(repoId, options.repoType);
  const revision = validateRevision(options.revision ?? 'main');
  if (options.files !== undefined && (options.allowPatterns !== undefined || options.ignorePatterns !== undefined)) {
    throw new InvalidHubArgumentError({ argument: 'files', message: 'pass either `files` or `allowPatterns`/`ignorePatterns`, not both' });
  }
  const requestedFiles = options.files?.map((path) => validateRepoPath(path, 'files'));
  const filter = createPathFilter(options.allowPatterns, options.ignorePatterns);
  const cacheDir = await resolveCacheDir(options);
  const storage = await storageFolder(cacheDir, repo.folderName);
  const fromCache = async () => serveFromCache(repo, storage, revision, requestedFiles, filter);

  if (resolveOffline(options)) {
    const cached = await fromCache();
    if ('missing' in cached) {
      throw new HubOfflineError({ repoId, revision, missing: cached.missing, cacheDir });
    }
    return cached;
  }
  if (COMMIT_SHA.test(revision) && requestedFiles !== undefined) {
    // A commit never changes: files already cached at it need no request.
    const cached = await fromCache();
    if (!('missing' in cached)) {
      return cached;
    }
  }

  const endpoint = resolveEndpoint(options);
  const token = await resolveToken(options, repoId);
  const hubFetch = createHubFetch(endpoint, token, options.fetch);
  const context: Omit<HubErrorContext, 'action'> = { repoId, revision, endpoint, token, hubFetch };
  const hubRepo = { type: repo.type, name: repo.name };

  let commit: string;
  try {
    commit = await resolveCommit(repo, revision, endpoint, hubFetch);
  } catch (error) {
    if (isConnectionError(error)) {
      const cached = await fromCache();
      if (!('missing' in cached)) {
        return cached;
      }
    }
    throw translateHubError(error, { ...context, action: 'resolving the revision' });
  }

  let remoteFiles: RemoteFile[];
  try {
    remoteFiles =
      requestedFiles !== undefined
        ? await describeFiles(hubRepo, requestedFiles, commit, endpoint, hubFetch, context)
        : await listRepoFiles(hubRepo, commit, endpoint, hubFetch, filter);
  } catch (error) {
    throw translateHubError(error, { ...context, action: 'listing the files' });
  }

  const folder = await snapshotFolder(storage, commit);
  await runPool(remoteFiles, options.concurrency ?? 4, async (file) => {
    const pointer = await joinRepoPath(folder, file.path);
    if (await isFile(pointer)) {
      return;
    }
    const { join } = await import('node:path');
    const blobPath = join(storage, 'blobs', file.etag);
    if (!(await hasSize(blobPath, file.size))) {
      await downloadBlob(hubRepo, file, commit, blobPath, endpoint, hubFetch, { ...context, action: `downloading "${file.path}"`, path: file.path });
    }
    await linkSnapshotFile(blobPath, pointer);
  });
  await writeCachedRef(storage, revision, commit);
  return {
    repoId,
    repoType: repo.type,
    revision,
    commit,
    folder,
    files: remoteFiles.map((file) => file.path).sort(),
    fromCache: false,
  };
}

/**
 * Downloads one file into the cache (see `downloadRepo`) and returns its path inside the snapshot
 * folder, `<cache>/models--org--name/snapshots/<commit>/<path>`.
 */
export async function downloadFile(repoId: string, path: string, options: Omit<DownloadRepoOptions, 'files' | 'allowPatterns' | 'ignorePatterns'> = {}): Promise<string> {
  const snapshot = await downloadRepo(repoId, { ...options, files: [path] });
  return joinRepoPath(snapshot.folder, path);
}

async function resolveCommit(repo: ParsedRepoId, revision: string, endpoint: string, hubFetch: HubFetch): Promise<string> {
  const parameters = { name: repo.name, revision, hubUrl: endpoint, fetch: hubFetch.fetch, additionalFields: ['sha' as const] };
  const info = repo.type === 'model' ? await modelInfo(parameters) : repo.type === 'dataset' ? await datasetInfo(parameters) : await spaceInfo(parameters);
  const sha = (info as { sha?: unknown }).sha;
  if (typeof sha !== 'string' || !COMMIT_SHA.test(sha)) {
    throw new HubRequestError({ repoId: repo.name, action: 'resolving the revision', detail: `the Hub answered without a commit sha for revision "${revision}"` });
  }
  return sha;
}

function toRemoteFile(entry: { path: string; size: number; oid?: string; lfs?: { oid: string }; xetHash?: string }, repoId: string): RemoteFile {
  validateRepoPath(entry.path, 'path listed by the Hub');
  const candidates: Array<[string | undefined, RemoteFile['verify'], RegExp]> = [
    [entry.lfs?.oid, 'sha256', /^[0-9a-f]{64}$/],
    [entry.lfs === undefined ? entry.oid : undefined, 'git-sha1', /^[0-9a-f]{40}$/],
    [entry.xetHash, 'size', /^[0-9a-f]{64}$/],
  ];
  for (const [etag, verify, pattern] of candidates) {
    if (etag !== undefined && pattern.test(etag)) {
      return { path: entry.path, size: entry.size, etag, verify };
    }
  }
  throw new HubRequestError({ repoId, action: 'listing the files', detail: `the Hub listed "${entry.path}" without a usable object id` });
}

async function describeFiles(
  hubRepo: { type: HubRepoType; name: string },
  paths: readonly string[],
  commit: string,
  endpoint: string,
  hubFetch: HubFetch,
  context: Omit<HubErrorContext, 'action'>,
): Promise<RemoteFile[]> {
  if (paths.length === 0) {
    return [];
  }
  const unique = [...new Set(paths)];
  const entries = await pathsInfo({ repo: hubRepo, paths: unique, revision: commit, hubUrl: endpoint, fetch: hubFetch.fetch });
  const byPath = new Map(entries.filter((entry) => entry.type === 'file').map((entry) => [entry.path, entry]));
  return unique.map((path) => {
    const entry = byPath.get(path);
    if (entry === undefined) {
      throw new HubNotFoundError({ repoId: context.repoId, revision: context.revision, path, endpoint });
    }
    return toRemoteFile(entry, context.repoId);
  });
}

async function listRepoFiles(
  hubRepo: { type: HubRepoType; name: string },
  commit: string,
  endpoint: string,
  hubFetch: HubFetch,
  filter: (path: string) => boolean,
): Promise<RemoteFile[]> {
  const files: RemoteFile[] = [];
  for await (const entry of listFiles({ repo: hubRepo, revision: commit, recursive: true, hubUrl: endpoint, fetch: hubFetch.fetch })) {
    if (entry.type === 'file' && filter(entry.path)) {
      files.push(toRemoteFile(entry, hubRepo.name));
    }
  }
  return files;
}

async function hasSize(path: string, size: number): Promise<boolean> {
  const { stat } = await import('node:fs/promises');
  return stat(path).then(
    (stats) => stats.isFile() && stats.size === size,
    () => false,
  );
}

async function downloadBlob(
  hubRepo: { type: HubRepoType; name: string },
  file: RemoteFile,
  commit: string,
  blobPath: string,
  endpoint: string,
  hubFetch: HubFetch,
  context: HubErrorContext,
): Promise<void> {
  const { mkdir, open, rename, rm } = await import('node:fs/promises');
  const { dirname } = await import('node:path');
  const { createHash, randomBytes } = await import('node:crypto');
  await mkdir(dirname(blobPath), { recursive: true });
  const temporary = `${blobPath}.${process.pid}.${randomBytes(6).toString('hex')}.incomplete`;
  const fail = (reason: string, cause?: unknown) =>
    new HubDownloadError({ repoId: context.repoId, revision: context.revision, path: file.path, reason: redact(reason, context.token), cause });
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    const blob = await hubDownloadFile({ repo: hubRepo, path: file.path, revision: commit, hubUrl: endpoint, fetch: hubFetch.fetch });
    if (blob === null) {
      throw new HubNotFoundError({ repoId: context.repoId, revision: context.revision, path: file.path, endpoint });
    }
    handle = await open(temporary, 'wx');
    const hash = file.verify === 'sha256' ? createHash('sha256') : createHash('sha1');
    if (file.verify === 'git-sha1') {
      hash.update(`blob ${file.size}\0`);
    }
    const reader = blob.stream().getReader();
    let received = 0;
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        throw fail(`the connection failed after ${received} of ${file.size} bytes (${describe(error)})`, error);
      }
      if (chunk.done) {
        break;
      }
      received += chunk.value.byteLength;
      if (received > file.size) {
        await reader.cancel().catch(() => undefined);
        throw fail(`received more than the ${file.size} bytes the Hub listed`);
      }
      hash.update(chunk.value);
      let written = 0;
      while (written < chunk.value.byteLength) {
        written += (await handle.write(chunk.value, written, chunk.value.byteLength - written)).bytesWritten;
      }
    }
    if (received !== file.size) {
      throw fail(`received ${received} of ${file.size} bytes`);
    }
    const digest = hash.digest('hex');
    if (file.verify !== 'size' && digest !== file.etag) {
      throw fail(`the content's ${file.verify} is ${digest}, but the Hub listed ${file.etag}`);
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temporary, blobPath);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await rm(temporary, { force: true });
    if (PeftHubError.isInstance(error)) {
      throw error;
    }
    if (error instanceof HubApiError) {
      throw translateHubError(error, context);
    }
    throw fail(describe(error), error);
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
  }
  return String(error);
}

async function serveFromCache(
  repo: ParsedRepoId,
  storage: string,
  revision: string,
  requestedFiles: readonly string[] | undefined,
  filter: (path: string) => boolean,
): Promise<RepoSnapshot | { missing: string[] }> {
  const commit = await readCachedCommit(storage, revision);
  if (commit === undefined) {
    return { missing: [COMMIT_SHA.test(revision) ? `snapshots/${revision}` : `refs/${revision}`] };
  }
  const folder = await snapshotFolder(storage, commit);
  let files: string[];
  if (requestedFiles !== undefined) {
    const missing: string[] = [];
    for (const path of requestedFiles) {
      if (!(await isFile(await joinRepoPath(folder, path)))) {
        missing.push(path);
      }
    }
    if (missing.length > 0) {
      return { missing };
    }
    files = [...new Set(requestedFiles)].sort();
  } else {
    const { stat } = await import('node:fs/promises');
    if (
      !(await stat(folder).then(
        (stats) => stats.isDirectory(),
        () => false,
      ))
    ) {
      return { missing: [`snapshots/${commit}`] };
    }
    files = (await listSnapshotFiles(folder)).filter(filter);
  }
  return { repoId: repo.name, repoType: repo.type, revision, commit, folder, files, fromCache: true };
}
