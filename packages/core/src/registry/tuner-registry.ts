import * as tf from '@tensorflow/tfjs-core';
import { DuplicateTunerError, InvalidConfigError, NoSuchTunerError, UnsupportedTunerVersionError } from '../errors';
import type { AnyTuner, TunerV1 } from '../spec/tuner-v1';
import { globalRegistry } from '../util/global-registry';

export const SUPPORTED_SPECIFICATION_VERSIONS = ['v1'] as const;

const tuners = globalRegistry('tuners', () => new Map<string, TunerV1<any>>());

export interface RegisterTunerOptions {
  /** Replace a different tuner that holds the same peftType or weightPrefix. */
  override?: boolean;
}

/**
 * Registers a tuner so configs with its peft_type dispatch to it and its layers deserialize.
 * Registering the same object again is a no-op; a different tuner under a taken peftType or
 * weightPrefix is refused unless `{ override: true }`.
 */
export function registerTuner(tuner: AnyTuner, options: RegisterTunerOptions = {}): void {
  if (typeof tuner !== 'object' || tuner === null || typeof tuner.peftType !== 'string' || tuner.peftType === '') {
    throw new InvalidConfigError('registerTuner needs a tuner object with a non-empty string peftType');
  }
  if (!(SUPPORTED_SPECIFICATION_VERSIONS as readonly string[]).includes(tuner.specificationVersion)) {
    throw new UnsupportedTunerVersionError({ peftType: tuner.peftType, version: tuner.specificationVersion, supported: SUPPORTED_SPECIFICATION_VERSIONS });
  }
  const candidate = tuner as TunerV1<any>;
  if (typeof candidate.weightPrefix !== 'string' || candidate.weightPrefix === '') {
    throw new InvalidConfigError(`tuner "${candidate.peftType}" needs a non-empty weightPrefix`);
  }
  const existing = tuners.get(candidate.peftType);
  if (existing === candidate) return;
  if (existing && !options.override) {
    throw new DuplicateTunerError(
      `a different tuner is already registered for peft_type "${candidate.peftType}"${existing.packageName ? ` (from ${existing.packageName})` : ''}; pass { override: true } to replace it`,
    );
  }
  for (const other of tuners.values()) {
    if (other.peftType === candidate.peftType) continue;
    if (other.weightPrefix === candidate.weightPrefix && (candidate.sharesWeightPrefix || other.sharesWeightPrefix)) continue;
    if (other.weightPrefix.startsWith(candidate.weightPrefix) || candidate.weightPrefix.startsWith(other.weightPrefix)) {
      if (!options.override) {
        throw new DuplicateTunerError(
          `weightPrefix "${candidate.weightPrefix}" of tuner "${candidate.peftType}" collides with "${other.weightPrefix}" of tuner "${other.peftType}"; pass { override: true } to replace it`,
        );
      }
      tuners.delete(other.peftType);
    }
  }
  for (const layerClass of candidate.layers) tf.serialization.registerClass(layerClass);
  tuners.set(candidate.peftType, candidate);
}

/** Removes a tuner; returns whether one was registered. */
export function unregisterTuner(peftType: string): boolean {
  return tuners.delete(peftType);
}

/** The tuner for a peft_type, or a NoSuchTunerError listing what is registered. */
export function getTuner<Config = any>(peftType: string, options: { packageName?: string } = {}): TunerV1<Config & any> {
  const tuner = tuners.get(peftType);
  if (!tuner) throw new NoSuchTunerError({ peftType, registered: [...tuners.keys()], packageName: options.packageName });
  return tuner;
}

export function hasTuner(peftType: string): boolean {
  return tuners.has(peftType);
}

export function listTuners(): TunerV1<any>[] {
  return [...tuners.values()];
}
