import * as tf from '@tensorflow/tfjs-core';
import { NoBackendError } from '../errors/no-backend-error';

/** The placeholder backend's name: tfjs tries it only when no real backend is registered. */
export const MISSING_BACKEND_NAME = 'peftjs-missing-backend';

/**
 * With no backend installed, tfjs' first op fails with "No backend found in registry." before any
 * peftjs code runs (building a tfjs-layers model makes tensors). A placeholder registered at the
 * lowest priority turns that into a message that names the packages to install: tfjs logs its
 * factory's error, then reports that no backend could be initialised.
 */
export function registerMissingBackendHint(): void {
  if (tf.findBackendFactory(MISSING_BACKEND_NAME) != null) return;
  tf.registerBackend(
    MISSING_BACKEND_NAME,
    () => {
      const error = new NoBackendError();
      // tfjs logs `stack || message`: the message alone reads as one line.
      error.stack = `${error.name}: ${error.message}`;
      throw error;
    },
    -1000,
  );
}
