import { describe, expect, it } from 'vitest';
import { InvalidConfigError, PeftError } from '@peftjs/core';
import { HubNotFoundError, PeftHubError } from './index';

describe('PeftHubError.isInstance', () => {
  it('recognises hub errors only, and every hub error is a PeftError', () => {
    const hubError = new HubNotFoundError({ repoId: 'org/name', revision: 'main' });
    expect(PeftHubError.isInstance(hubError)).toBe(true);
    expect(PeftHubError.isInstance(new PeftHubError('x'))).toBe(true);
    expect(PeftError.isInstance(hubError)).toBe(true);
    expect(PeftHubError.isInstance(new InvalidConfigError('not the hub'))).toBe(false);
    expect(PeftHubError.isInstance(new Error('plain'))).toBe(false);
    expect(HubNotFoundError.isInstance(new PeftHubError('other hub error'))).toBe(false);
  });
});
