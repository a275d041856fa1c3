import { downloadRepo, HubUnreachableError, locateFolderOrRepo, type DownloadRepoOptions } from '@peftjs/hub';

/** Files a model folder needs: configs, safetensors weights (single or sharded), tokenizer files. */
export const MODEL_FILE_PATTERNS = ['*.json', '*.safetensors', 'tokenizer.model'] as const;

export interface ResolveModelOptions {
  /** Branch, tag or commit on the Hub. Default `main`. */
  revision?: string;
  /** Hub connection and cache options (endpoint, token, cacheDir, offline), passed to @peftjs/hub's downloadRepo. */
  hub?: Omit<DownloadRepoOptions, 'revision' | 'files' | 'allowPatterns' | 'ignorePatterns' | 'repoType'>;
}

/** Turns a repo id into a local folder; the default downloads through @peftjs/hub into the HF cache. */
export type ModelResolver = (repoId: string, options: ResolveModelOptions) => Promise<string>;

const defaultResolver: ModelResolver = async (repoId, options) => {
  const snapshot = await downloadRepo(repoId, { ...options.hub, revision: options.revision, allowPatterns: [...MODEL_FILE_PATTERNS] });
  return snapshot.folder;
};

let resolver: ModelResolver = defaultResolver;

/** Replaces how repo ids become folders (a mirror, a test double); returns the previous resolver. */
export function setModelResolver(next: ModelResolver | undefined): ModelResolver {
  const previous = resolver;
  resolver = next ?? defaultResolver;
  return previous;
}

/**
 * A local folder as it is, else a Hub repo id (`org/name`) fetched into the cache. A missing path
 * that can only be a path (absolute, `./`, ...) or a file is refused before any request.
 */
export async function resolveModelFolder(dirOrRepoId: string, options: ResolveModelOptions = {}): Promise<string> {
  const location = await locateFolderOrRepo(dirOrRepoId);
  if ('folder' in location) return location.folder;
  return resolver(dirOrRepoId, options).catch((error: unknown) => {
    // Say that the name was also looked for as a local folder: it may be a mistyped path.
    if (HubUnreachableError.isInstance(error)) {
      throw new HubUnreachableError({ repoId: error.repoId, endpoint: error.endpoint, detail: error.detail, localPath: location.localPath, cause: error });
    }
    throw error;
  });
}
