import { commit, createRepo, HubApiError, type CommitOperation } from '@huggingface/hub';
import { HubRequestError } from '../errors/hub-request-error';
import { InvalidHubArgumentError } from '../errors/invalid-hub-argument-error';
import { createPathFilter } from './file-patterns';
import { createHubFetch } from './hub-fetch';
import { resolveEndpoint, resolveOffline, resolveToken, type HubConnectionOptions } from './hub-settings';
import { parseRepoId, validateRepoPath, validateRevision, type HubRepoType } from './repo-id';
import { translateHubError, type HubErrorContext } from './translate-hub-error';

export interface PushFolderToHubOptions extends HubConnectionOptions {
  /** Create the repository as private if it does not exist yet. Default: the Hub's default (public). */
  private?: boolean;
  /** Commit title. Default: "Upload folder using peftjs". */
  commitMessage?: string;
  commitDescription?: string;
  /** Branch to commit to (it must exist). Default `main`. */
  revision?: string;
  /** Default `model`. */
  repoType?: HubRepoType;
  /** Folder inside the repo to upload into. Default: the root. */
  pathInRepo?: string;
  /** Only upload files matching one of these shell patterns. */
  allowPatterns?: string | readonly string[];
  /** Skip files matching one of these patterns (`.git/` and `.cache/huggingface/` are always skipped). */
  ignorePatterns?: string | readonly string[];
  /** Commit only if the branch head is still this commit. */
  parentCommit?: string;
  /** Not in Node offline mode: pushing needs the network. Default `HF_HUB_OFFLINE`. */
  offline?: boolean;
}

export interface PushResult {
  readonly repoId: string;
  /** The new commit's sha. */
  readonly commit: string;
  readonly commitUrl: string;
  /** Paths of the uploaded files in the repo. */
  readonly files: readonly string[];
}

const ALWAYS_IGNORED = ['.git', '.git/*', '*/.git', '*/.git/*', '.cache/huggingface', '.cache/huggingface/*', '*/.cache/huggingface/*'];

/**
 * Uploads the files of a local folder to a Hub repository in one commit, creating the repository
 * first if it does not exist ("already exists" is not an error). Large files go through the
 * Hub's LFS (or xet) upload as `@huggingface/hub` decides; files are read lazily from disk.
 */
export async function pushFolderToHub(folder: string, repoId: string, options: PushFolderToHubOptions = {}): Promise<PushResult> {
  const { openAsBlob } = await import('node:fs');
  const repo = parseRepoId(repoId, options.repoType);
  const branch = validateRevision(options.revision ?? 'main');
  const prefix = options.pathInRepo === undefined || options.pathInRepo === '' ? '' : `${validateRepoPath(options.pathInRepo.replace(/\/+$/, ''), 'pathInRepo')}/`;
  const endpoint = resolveEndpoint(options);
  if (resolveOffline(options)) {
    throw new HubRequestError({ repoId, action: 'pushing', detail: 'offline mode is on (HF_HUB_OFFLINE or `offline: true`); pushing needs the Hub' });
  }
  const token = await resolveToken(options, repoId);
  const hubFetch = createHubFetch(endpoint, token, options.fetch);
  const context = (action: string): HubErrorContext => ({ repoId, revision: branch, endpoint, token, hubFetch, action });

  const localFiles = await listFolder(folder, createPathFilter(options.allowPatterns, [...ALWAYS_IGNORED, ...toArray(options.ignorePatterns)]));
  if (localFiles.length === 0) {
    throw new InvalidHubArgumentError({ argument: 'folder', message: `folder ${JSON.stringify(folder)} has no files to upload` });
  }

  const hubRepo = { type: repo.type, name: repo.name };
  try {
    // The token is added by hubFetch, not by the library (whose `accessToken` must start with "hf_").
    await createRepo({
      repo: hubRepo,
      hubUrl: endpoint,
      fetch: hubFetch.fetch,
      accessToken: '',
      ...(options.private === undefined ? {} : { visibility: options.private ? 'private' : 'public' }),
    });
  } catch (error) {
    // 409: it exists. 403 may mean "exists, but you may not create repos in this namespace":
    // the commit below then fails with a clear error if writing is not allowed either.
    if (!(error instanceof HubApiError && (error.statusCode === 409 || error.statusCode === 403))) {
      throw translateHubError(error, context('creating the repository'));
    }
  }

  const { join } = await import('node:path');
  const operations: CommitOperation[] = await Promise.all(
    localFiles.map(async (path) => ({
      operation: 'addOrUpdate' as const,
      path: `${prefix}${path}`,
      content: await openAsBlob(join(folder, ...path.split('/'))),
    })),
  );
  try {
    const output = await commit({
      repo: hubRepo,
      operations,
      title: options.commitMessage ?? 'Upload folder using peftjs',
      description: options.commitDescription,
      branch,
      parentCommit: options.parentCommit,
      hubUrl: endpoint,
      fetch: hubFetch.fetch,
    });
    if (output === undefined) {
      throw new HubRequestError({ repoId, action: 'committing', detail: 'the Hub returned no commit' });
    }
    return { repoId, commit: output.commit.oid, commitUrl: output.commit.url, files: operations.map((operation) => operation.path) };
  } catch (error) {
    throw translateHubError(error, context('committing'));
  }
}

function toArray(patterns: string | readonly string[] | undefined): string[] {
  return patterns === undefined ? [] : typeof patterns === 'string' ? [patterns] : [...patterns];
}

/** Files below `folder` (following symlinks), as `/`-separated relative paths, sorted. */
async function listFolder(folder: string, filter: (path: string) => boolean): Promise<string[]> {
  const { readdir, stat } = await import('node:fs/promises');
  const { join } = await import('node:path');
  if (
    !(await stat(folder).then(
      (stats) => stats.isDirectory(),
      () => false,
    ))
  ) {
    throw new InvalidHubArgumentError({ argument: 'folder', message: `${JSON.stringify(folder)} is not a folder` });
  }
  const files: string[] = [];
  const walk = async (relative: string): Promise<void> => {
    for (const entry of await readdir(join(folder, relative), { withFileTypes: true })) {
      const path = relative === '' ? entry.name : `${relative}/${entry.name}`;
      const stats = await stat(join(folder, path)).catch(() => undefined);
      if (stats?.isDirectory()) {
        if (entry.name !== '.git' && !`/${path}`.endsWith('/.cache/huggingface')) {
          await walk(path);
        }
      } else if (stats?.isFile() && filter(path)) {
        files.push(path);
      }
    }
  };
  await walk('');
  return files.sort();
}
