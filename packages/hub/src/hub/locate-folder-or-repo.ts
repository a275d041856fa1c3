import { NoSuchFolderError } from '../errors/no-such-folder-error';

/** Where a `dirOrRepoId` argument points: a local folder, or a Hub repo id to fetch. */
export type FolderOrRepo = { readonly folder: string } | { readonly repoId: string; readonly localPath: string };

/**
 * Decides between a local folder and a Hub repo id without touching the network. An existing
 * folder is local; an existing file, or a missing path that can only be a path (absolute,
 * `./`, `../`, `~`, a backslash, a trailing slash, more than one slash), is a NoSuchFolderError;
 * anything else is a repo id (`gpt2`, `org/name`).
 */
export async function locateFolderOrRepo(dirOrRepoId: string): Promise<FolderOrRepo> {
  const { stat } = await import('node:fs/promises');
  const { resolve } = await import('node:path');
  const localPath = resolve(dirOrRepoId);
  const stats = await stat(dirOrRepoId).catch(() => undefined);
  if (stats?.isDirectory()) return { folder: dirOrRepoId };
  if (stats) throw new NoSuchFolderError({ path: localPath, given: dirOrRepoId, isFile: true });
  if (looksLikePath(dirOrRepoId)) throw new NoSuchFolderError({ path: localPath, given: dirOrRepoId });
  return { repoId: dirOrRepoId, localPath };
}

function looksLikePath(value: string): boolean {
  return (
    value.startsWith('/') ||
    value.startsWith('./') ||
    value.startsWith('../') ||
    value === '.' ||
    value === '..' ||
    value.startsWith('~') ||
    value.includes('\\') ||
    value.endsWith('/') ||
    /^[A-Za-z]:/.test(value) ||
    value.split('/').length > 2
  );
}
