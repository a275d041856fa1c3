/**
 * A `fetch` for `@huggingface/hub` calls that adds the token itself, so that:
 * - the token goes only to the endpoint's origin (never to a CDN, upload or xet URL elsewhere);
 * - any token format works (the library only accepts `hf_…`; mirrors may issue others);
 * - the Hub's `X-Error-Code` header (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo),
 *   which the library's errors drop, is kept for error translation.
 */
export interface HubFetch {
  readonly fetch: typeof fetch;
  /** The X-Error-Code of the last failed response from `url`, if any. */
  errorCode(url: string): string | undefined;
}

export function createHubFetch(endpoint: string, token: string | undefined, baseFetch: typeof fetch = globalThis.fetch): HubFetch {
  const origin = new URL(endpoint).origin;
  const errorCodes = new Map<string, string>();
  const hubFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    // Requests to other origins (S3 upload URLs, the xet CAS server) keep whatever the library set
    // (its own short-lived xet tokens, or nothing): our token is never given to the library, so it
    // cannot be among them.
    if (new URL(url).origin === origin) {
      if (token !== undefined) {
        headers.set('Authorization', `Bearer ${token}`);
      } else if (/^Bearer\s*(undefined)?$/.test(headers.get('Authorization') ?? '')) {
        headers.delete('Authorization');
      }
    }
    const response = await baseFetch(input, { ...init, headers });
    if (!response.ok) {
      const code = response.headers.get('X-Error-Code');
      if (code !== null) {
        errorCodes.set(url, code);
        errorCodes.set(response.url, code);
      }
    }
    return response;
  };
  return { fetch: hubFetch as typeof fetch, errorCode: (url) => errorCodes.get(url) };
}
