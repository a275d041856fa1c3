import * as tf from '@tensorflow/tfjs-core';

import { BackendInitError } from '../errors/backend-init-error';
import type { BackendName } from './backend-name';

/** Makes `name` the active tfjs backend, or throws `BackendInitError` saying why it could not. */
export async function setActiveBackend(name: BackendName, packageName: string, hint: string): Promise<void> {
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
  } catch (error) {
    throw new BackendInitError({
      backend: name,
      packageName,
      reason: error instanceof Error ? error.message : String(error),
      cause: error,
    });
  }
  if (!ok) {
    throw new BackendInitError({ backend: name, packageName, reason: `tf.setBackend('${name}') returned false; ${hint}` });
  }
}
