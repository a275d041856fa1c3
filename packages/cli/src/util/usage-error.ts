import { PeftError } from '@peftjs/core';

/** A mistake in what the user typed or gave: the CLI prints its message on one line and exits 2. */
export class UsageError extends PeftError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'UsageError';
  }
}

/** Exit codes: 0 success, 1 an unexpected failure, 2 a user error (bad flags, files, configs). */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

const USER_ERROR_NAMES = new Set([
  // core
  'InvalidConfigError',
  'NoSuchTunerError',
  'NoMatchingTargetError',
  'UnsupportedLayerError',
  'AdapterFormatError',
  'NoSuchAdapterError',
  'AdapterStateError',
  'MergeError',
  // hub
  'SafetensorsFormatError',
  'HubNotFoundError',
  'HubAuthenticationError',
  'HubOfflineError',
  'HubUnreachableError',
  'NoSuchFolderError',
  'InvalidHubArgumentError',
  'AdapterFolderError',
  // models
  'ModelLoadError',
  'UnsupportedModelTypeError',
  // runtime
  'UnknownBackendError',
  'BackendNotInstalledError',
  'NoBackendError',
]);

/** Whether an error is the user's to fix (exit 2) rather than a failure of peftjs (exit 1). */
export function isUserError(error: unknown): boolean {
  if (error instanceof UsageError) return true;
  if (!(error instanceof Error)) return false;
  if (USER_ERROR_NAMES.has(error.name) || USER_ERROR_NAMES.has(error.constructor?.name)) return true;
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR' || code === 'EACCES';
}
