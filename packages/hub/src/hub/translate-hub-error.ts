import { HubApiError } from '@huggingface/hub';
import { HubAuthenticationError } from '../errors/hub-authentication-error';
import { HubNotFoundError } from '../errors/hub-not-found-error';
import { HubRequestError } from '../errors/hub-request-error';
import { HubUnreachableError } from '../errors/hub-unreachable-error';
import { PeftHubError } from '../errors/peft-hub-error';
import type { HubFetch } from './hub-fetch';

export interface HubErrorContext {
  readonly repoId: string;
  readonly revision: string;
  readonly endpoint: string;
  readonly token: string | undefined;
  readonly hubFetch: HubFetch;
  /** What was being done, for the message: "resolving the revision", "creating the repository". */
  readonly action: string;
  /** The repo file concerned, if any. */
  readonly path?: string;
}

/** Replaces every occurrence of the token in a message (defence in depth: we never put it there). */
export function redact(text: string, token: string | undefined): string {
  return token === undefined || token === '' ? text : text.split(token).join('***');
}

/** Turns an error from `@huggingface/hub` or `fetch` into one of this package's typed errors. */
export function translateHubError(error: unknown, context: HubErrorContext): PeftHubError {
  if (PeftHubError.isInstance(error)) {
    return error;
  }
  const { repoId, revision, endpoint, token } = context;
  if (error instanceof HubApiError) {
    const code = context.hubFetch.errorCode(error.url);
    const status = error.statusCode;
    const detail = redact(error.message, token);
    if (code === 'RepoNotFound' || code === 'RevisionNotFound') {
      return new HubNotFoundError({ repoId, revision, endpoint });
    }
    if (code === 'EntryNotFound' || (status === 404 && context.path !== undefined)) {
      return new HubNotFoundError({ repoId, revision, path: context.path, endpoint });
    }
    if (status === 404) {
      return new HubNotFoundError({ repoId, revision, endpoint });
    }
    if (status === 401 || status === 403 || code === 'GatedRepo') {
      return new HubAuthenticationError({ repoId, status, hadToken: token !== undefined, detail: code === 'GatedRepo' ? `gated repository: ${detail}` : detail });
    }
    return new HubRequestError({ repoId, action: context.action, status, detail });
  }
  const message = error instanceof Error ? `${error.message}${causeMessage(error)}` : String(error);
  if (isConnectionError(error)) return new HubUnreachableError({ repoId, endpoint, detail: redact(message, token), cause: error });
  // Network errors keep their cause (ECONNREFUSED and the like); they never carry request headers.
  return new HubRequestError({ repoId, action: context.action, detail: `${redact(message, token)} (endpoint ${endpoint})`, cause: error });
}

function causeMessage(error: Error): string {
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? `: ${cause.message}` : '';
}

/** True for errors where the network could not be reached at all (no HTTP answer). */
export function isConnectionError(error: unknown): boolean {
  return !(error instanceof HubApiError) && !PeftHubError.isInstance(error) && error instanceof TypeError;
}
