import { HubUnreachableError } from '../errors/hub-unreachable-error';
import { InvalidHubArgumentError } from '../errors/invalid-hub-argument-error';
import { locateFolderOrRepo } from '../hub/locate-folder-or-repo';
import { downloadRepo, type DownloadRepoOptions } from '../hub/download-repo';
import { parseRepoId, validateRepoPath } from '../hub/repo-id';
import { ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME } from './adapter-files';

export interface AdapterLocationOptions extends Omit<DownloadRepoOptions, 'files' | 'allowPatterns' | 'ignorePatterns' | 'repoType'> {
  /** A folder inside the local folder or the repo (PEFT's `subfolder`), e.g. a non-default adapter's name. */
  subfolder?: string;
}

/**
 * The local folder holding an adapter: `dirOrRepoId` itself if it is a local folder, else the
 * Hub repo's snapshot in the cache (only `adapter_config.json` and `adapter_model.safetensors`
 * are downloaded), plus `subfolder`.
 */
export async function resolveAdapterFolder(
  dirOrRepoId: string,
  options: AdapterLocationOptions = {},
  files: readonly string[] = [ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME],
): Promise<string> {
  const { join } = await import('node:path');
  const subfolder = options.subfolder === undefined || options.subfolder === '' ? undefined : validateRepoPath(options.subfolder.replace(/\/+$/, ''), 'subfolder');
  const location = await locateFolderOrRepo(dirOrRepoId);
  if ('folder' in location) {
    return subfolder === undefined ? location.folder : join(location.folder, ...subfolder.split('/'));
  }
  try {
    parseRepoId(dirOrRepoId);
  } catch {
    throw new InvalidHubArgumentError({
      argument: 'dirOrRepoId',
      message: `${JSON.stringify(dirOrRepoId)} is neither a local folder (no such folder: ${location.localPath}) nor a Hub repo id ("org/name")`,
    });
  }
  const { subfolder: _subfolder, ...downloadOptions } = options;
  const prefix = subfolder === undefined ? '' : `${subfolder}/`;
  const snapshot = await downloadRepo(dirOrRepoId, { ...downloadOptions, files: files.map((file) => `${prefix}${file}`) }).catch((error: unknown) => {
    // Say that the name was also looked for as a local folder: it may be a mistyped path.
    if (HubUnreachableError.isInstance(error)) {
      throw new HubUnreachableError({ repoId: error.repoId, endpoint: error.endpoint, detail: error.detail, localPath: location.localPath, cause: error });
    }
    throw error;
  });
  return subfolder === undefined ? snapshot.folder : join(snapshot.folder, ...subfolder.split('/'));
}
