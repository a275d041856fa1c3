import { AdapterFolderError } from '../errors/adapter-folder-error';
import { ADAPTER_CONFIG_NAME, ADAPTER_PICKLE_WEIGHTS_NAME, ADAPTER_WEIGHTS_NAME } from './adapter-files';
import { resolveAdapterFolder, type AdapterLocationOptions } from './resolve-adapter-folder';

/**
 * Reads `adapter_config.json` from a local adapter folder or a Hub repo (PEFT's
 * `PeftConfig.from_pretrained`), as the raw snake_case JSON object; parse it with core's
 * `parsePeftConfig` (which needs the method's tuner registered).
 */
export async function readAdapterConfig(dirOrRepoId: string, options: AdapterLocationOptions = {}): Promise<Record<string, unknown>> {
  const folder = await resolveAdapterFolder(dirOrRepoId, options, [ADAPTER_CONFIG_NAME]);
  return readAdapterConfigFile(folder);
}

export async function readAdapterConfigFile(folder: string): Promise<Record<string, unknown>> {
  const { readFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const path = join(folder, ADAPTER_CONFIG_NAME);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new AdapterFolderError({ folder, file: ADAPTER_CONFIG_NAME, message: `no ${ADAPTER_CONFIG_NAME} in ${folder}`, cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new AdapterFolderError({ folder, file: ADAPTER_CONFIG_NAME, message: `${path} is not valid JSON: ${(error as Error).message}`, cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new AdapterFolderError({ folder, file: ADAPTER_CONFIG_NAME, message: `${path} is not a JSON object` });
  }
  return parsed as Record<string, unknown>;
}

/** The path of the adapter's safetensors file, or an error that says what the folder has instead. */
export async function adapterWeightsPath(folder: string): Promise<string> {
  const { stat } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const path = join(folder, ADAPTER_WEIGHTS_NAME);
  const exists = async (file: string) =>
    stat(file).then(
      (stats) => stats.isFile(),
      () => false,
    );
  if (await exists(path)) {
    return path;
  }
  const hasPickle = await exists(join(folder, ADAPTER_PICKLE_WEIGHTS_NAME));
  throw new AdapterFolderError({
    folder,
    file: ADAPTER_WEIGHTS_NAME,
    message: hasPickle
      ? `${folder} has ${ADAPTER_PICKLE_WEIGHTS_NAME} (pickle) but no ${ADAPTER_WEIGHTS_NAME}; peftjs reads safetensors only: re-save it in Python with save_pretrained(..., safe_serialization=True)`
      : `no ${ADAPTER_WEIGHTS_NAME} in ${folder}`,
  });
}
