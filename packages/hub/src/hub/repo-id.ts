import { InvalidHubArgumentError } from '../errors/invalid-hub-argument-error';

export type HubRepoType = 'model' | 'dataset' | 'space';

export interface ParsedRepoId {
  readonly type: HubRepoType;
  /** `org/name` or `name` */
  readonly name: string;
  /** The cache folder name Python uses: `models--org--name`. */
  readonly folderName: string;
}

const NAME_PART = /^[A-Za-z0-9_.-]{1,96}$/;

/**
 * Validates a repo id (`org/name` or `name`) the way huggingface_hub does: letters, digits,
 * `-`, `_`, `.`; no `--` or `..`; not starting or ending with `-` or `.`.
 */
export function parseRepoId(repoId: string, type: HubRepoType = 'model'): ParsedRepoId {
  const parts = repoId.split('/');
  const valid =
    typeof repoId === 'string' &&
    parts.length >= 1 &&
    parts.length <= 2 &&
    parts.every((part) => NAME_PART.test(part) && !part.includes('--') && !part.includes('..') && !/^[-.]|[-.]$/.test(part));
  if (!valid) {
    throw new InvalidHubArgumentError({
      argument: 'repoId',
      message: `repo id ${JSON.stringify(repoId)} is not valid: expected "name" or "org/name" with letters, digits, "-", "_" and "." (no "--" or "..")`,
    });
  }
  return { type, name: repoId, folderName: [`${type}s`, ...parts].join('--') };
}

/** A revision (branch, tag, sha, `refs/pr/1`) usable as a path under `refs/` without escaping it. */
export function validateRevision(revision: string): string {
  const valid =
    typeof revision === 'string' &&
    revision !== '' &&
    !revision.includes('\\') &&
    !revision.includes('\0') &&
    revision.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
  if (!valid) {
    throw new InvalidHubArgumentError({ argument: 'revision', message: `revision ${JSON.stringify(revision)} is not valid` });
  }
  return revision;
}

/** A file path inside a repo that cannot escape the folder it is joined to. */
export function validateRepoPath(path: string, argument = 'path'): string {
  const valid =
    typeof path === 'string' &&
    path !== '' &&
    !path.startsWith('/') &&
    !path.includes('\\') &&
    !path.includes('\0') &&
    !/^[A-Za-z]:/.test(path) &&
    path.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
  if (!valid) {
    throw new InvalidHubArgumentError({
      argument,
      message: `file path ${JSON.stringify(path)} is not a relative path inside the repository`,
    });
  }
  return path;
}

export const COMMIT_SHA = /^[0-9a-f]{40}$/;
