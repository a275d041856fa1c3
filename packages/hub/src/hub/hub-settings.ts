import { HubAuthenticationError } from '../errors/hub-authentication-error';

/** Connection settings shared by every Hub function. Unset fields come from the environment. */
export interface HubConnectionOptions {
  /** Hub URL. Default: `HF_ENDPOINT`, else `https://huggingface.co`. */
  endpoint?: string;
  /**
   * Access token. Default: `HF_TOKEN`, else `HUGGING_FACE_HUB_TOKEN`, else the token file Python's
   * `huggingface-cli login` writes (`HF_TOKEN_PATH`, else `$HF_HOME/token`). `false`: send none.
   * The token is only sent to the endpoint's origin and never appears in an error message.
   */
  token?: string | false;
  /** A `fetch` to use instead of the global one (proxies, tests). */
  fetch?: typeof fetch;
}

export interface HubCacheOptions {
  /** Cache folder. Default: `HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`. */
  cacheDir?: string;
  /** Serve only from the cache, never touching the network. Default: `HF_HUB_OFFLINE` is truthy. */
  offline?: boolean;
}

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

function environment(name: string): string | undefined {
  const value = typeof process === 'undefined' ? undefined : process.env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** Python's rule for boolean environment variables: 1, ON, YES, TRUE (any case). */
export function isTruthyEnvironmentValue(value: string | undefined): boolean {
  return value !== undefined && ['1', 'ON', 'YES', 'TRUE'].includes(value.toUpperCase());
}

export function resolveEndpoint(options: HubConnectionOptions): string {
  return (options.endpoint ?? environment('HF_ENDPOINT') ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
}

async function homeFolder(): Promise<string> {
  const { join } = await import('node:path');
  const { homedir } = await import('node:os');
  return environment('HF_HOME') ?? join(environment('XDG_CACHE_HOME') ?? join(homedir(), '.cache'), 'huggingface');
}

export async function resolveCacheDir(options: HubCacheOptions): Promise<string> {
  const { join, resolve } = await import('node:path');
  return resolve(options.cacheDir ?? environment('HF_HUB_CACHE') ?? environment('HUGGINGFACE_HUB_CACHE') ?? join(await homeFolder(), 'hub'));
}

export function resolveOffline(options: HubCacheOptions): boolean {
  return options.offline ?? isTruthyEnvironmentValue(environment('HF_HUB_OFFLINE'));
}

/** The token to send, or undefined. Validated so that it can never be echoed by a header error. */
export async function resolveToken(options: HubConnectionOptions, repoId: string): Promise<string | undefined> {
  if (options.token === false) {
    return undefined;
  }
  let token = options.token ?? environment('HF_TOKEN') ?? environment('HUGGING_FACE_HUB_TOKEN');
  if (token === undefined) {
    const { readFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const path = environment('HF_TOKEN_PATH') ?? join(await homeFolder(), 'token');
    token = await readFile(path, 'utf8').then(
      (text) => (text.trim() === '' ? undefined : text.trim()),
      () => undefined,
    );
  }
  if (token !== undefined && !/^[\x21-\x7e]+$/.test(token)) {
    throw new HubAuthenticationError({
      repoId,
      hadToken: true,
      detail: 'the token contains spaces or characters that are not printable ASCII',
    });
  }
  return token === '' ? undefined : token;
}
