import { describe, expect, it } from 'vitest';
import { createHubFetch } from './hub-fetch';

describe('createHubFetch', () => {
  it('sends the token only to the endpoint origin, leaves other origins’ headers alone, and drops the library’s empty header', async () => {
    const seen: Array<[string, string | null]> = [];
    const stub = (async (input: string | URL | Request, init?: RequestInit) => {
      seen.push([String(input), new Headers(init?.headers).get('Authorization')]);
      return new Response('{}', { status: 404, headers: { 'X-Error-Code': 'EntryNotFound' } });
    }) as typeof fetch;
    const withToken = createHubFetch('https://hub.example/', 'hf_abc', stub);
    await withToken.fetch('https://hub.example/api/models/a/b');
    await withToken.fetch('https://cdn.example/file');
    await withToken.fetch('https://cas.example/xorb', { headers: { Authorization: 'Bearer xet_short_lived' } });
    const withoutToken = createHubFetch('https://hub.example', undefined, stub);
    await withoutToken.fetch('https://hub.example/api/repos/create', { headers: { Authorization: 'Bearer ' } });
    expect(seen).toEqual([
      ['https://hub.example/api/models/a/b', 'Bearer hf_abc'],
      ['https://cdn.example/file', null],
      ['https://cas.example/xorb', 'Bearer xet_short_lived'],
      ['https://hub.example/api/repos/create', null],
    ]);
    expect(withToken.errorCode('https://hub.example/api/models/a/b')).toBe('EntryNotFound');
  });
});
