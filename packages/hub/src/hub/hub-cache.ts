// The Hugging Face cache layout, shared with Python's huggingface_hub:
//
//   <cacheDir>/models--org--name/
//     blobs/<etag>                       file contents, named by git oid (sha1) or LFS sha256
//     snapshots/<commit>/<path>          relative symlinks to ../../blobs/<etag>
//     refs/<revision>                    the commit sha a branch or tag pointed to, no newline
//
// Node modules are imported lazily so that importing `@peftjs/hub` in a browser does not fail.

import { writeFileAtomicContent } from '../util/atomic-write';
import { COMMIT_SHA, validateRepoPath, validateRevision } from './repo-id';

export async function storageFolder(cacheDir: string, folderName: string): Promise<string> {
  const { join } = await import('node:path');
  return join(cacheDir, folderName);
}

export async function snapshotFolder(storage: string, commit: string): Promise<string> {
  const { join } = await import('node:path');
  return join(storage, 'snapshots', commit);
}

/** The commit a revision points to in the cache: a sha with a snapshot folder, or refs/<revision>. */
export async function readCachedCommit(storage: string, revision: string): Promise<string | undefined> {
  const { readFile, stat } = await import('node:fs/promises');
  const { join } = await import('node:path');
  validateRevision(revision);
  if (COMMIT_SHA.test(revision)) {
    const isFolder = await stat(join(storage, 'snapshots', revision)).then(
      (stats) => stats.isDirectory(),
      () => false,
    );
    if (isFolder) {
      return revision;
    }
  }
  const commit = await readFile(join(storage, 'refs', revision), 'utf8').then(
    (text) => text.trim(),
    () => undefined,
  );
  return commit !== undefined && COMMIT_SHA.test(commit) ? commit : undefined;
}

export async function writeCachedRef(storage: string, revision: string, commit: string): Promise<void> {
  const { join } = await import('node:path');
  validateRevision(revision);
  if (revision !== commit) {
    await writeFileAtomicContent(join(storage, 'refs', revision), commit);
  }
}

/** True when `path` exists and (following symlinks) is a regular file. */
export async function isFile(path: string): Promise<boolean> {
  const { stat } = await import('node:fs/promises');
  return stat(path).then(
    (stats) => stats.isFile(),
    () => false,
  );
}

/** Every file below a snapshot folder, as repo-relative paths with `/`, sorted. */
export async function listSnapshotFiles(folder: string): Promise<string[]> {
  const { readdir } = await import('node:fs/promises');
  const { join, relative, sep } = await import('node:path');
  const files: string[] = [];
  const walk = async (current: string): Promise<void> => {
    const entries = await readdir(current, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) {
        await walk(path);
      } else if (await isFile(path)) {
        files.push(relative(folder, path).split(sep).join('/'));
      }
    }
  };
  await walk(folder);
  return files.sort();
}

/**
 * Points `snapshots/<commit>/<path>` at a blob: a relative symlink as Python makes it, created
 * under a temporary name and renamed into place (atomic). Where symlinks are not allowed
 * (Windows without developer mode) the blob is copied instead, as Python does.
 */
export async function linkSnapshotFile(blobPath: string, pointerPath: string): Promise<void> {
  const { copyFile, mkdir, rename, rm, symlink } = await import('node:fs/promises');
  const { dirname, relative } = await import('node:path');
  const { randomBytes } = await import('node:crypto');
  await mkdir(dirname(pointerPath), { recursive: true });
  const temporary = `${pointerPath}.${process.pid}.${randomBytes(6).toString('hex')}.link`;
  try {
    await symlink(relative(dirname(pointerPath), blobPath), temporary);
  } catch {
    await copyFile(blobPath, temporary);
  }
  try {
    await rename(temporary, pointerPath);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** Joins a validated repo path onto a folder. */
export async function joinRepoPath(folder: string, path: string): Promise<string> {
  const { join } = await import('node:path');
  return join(folder, ...validateRepoPath(path).split('/'));
}
