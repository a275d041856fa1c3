import { afterEach, describe, expect, it, vi } from 'vitest';
import { DuplicateTunerError, NoSuchTunerError, UnsupportedTunerVersionError } from '../errors';
import type { TunerV1 } from '../spec/tuner-v1';
import { getTuner, hasTuner, listTuners, registerTuner, unregisterTuner } from './tuner-registry';

// The registry only stores and checks tuners, so a tuner that adapts nothing is enough here.
const outputScale: TunerV1<any> = {
  specificationVersion: 'v1',
  peftType: 'OUTPUT_SCALE',
  weightPrefix: 'scale_',
  packageName: 'peftjs-tuner-output-scale',
  layers: [],
  supportedLayerClasses: ['Dense'],
  parseConfig: (raw) => raw,
  serializeConfig: (config) => config,
  createLayer: () => {
    throw new Error('not used by the registry tests');
  },
  updateLayer: () => undefined,
};

afterEach(() => {
  unregisterTuner('OUTPUT_SCALE');
  unregisterTuner('OTHER');
});

describe('tuner registry', () => {
  it('registers, lists, gets and unregisters', () => {
    registerTuner(outputScale);
    expect(getTuner('OUTPUT_SCALE')).toBe(outputScale);
    expect(listTuners()).toContain(outputScale);
    expect(unregisterTuner('OUTPUT_SCALE')).toBe(true);
    expect(hasTuner('OUTPUT_SCALE')).toBe(false);
    expect(unregisterTuner('OUTPUT_SCALE')).toBe(false);
  });

  it('is idempotent for the same object', () => {
    registerTuner(outputScale);
    expect(() => registerTuner(outputScale)).not.toThrow();
    expect(listTuners().filter((tuner) => tuner.peftType === 'OUTPUT_SCALE')).toHaveLength(1);
  });

  it('refuses a different tuner under a taken peftType unless asked to override', () => {
    registerTuner(outputScale);
    const impostor: TunerV1<any> = { ...outputScale };
    expect(() => registerTuner(impostor)).toThrow(DuplicateTunerError);
    registerTuner(impostor, { override: true });
    expect(getTuner('OUTPUT_SCALE')).toBe(impostor);
  });

  it('refuses a weightPrefix that collides with another tuner', () => {
    registerTuner(outputScale);
    const other: TunerV1<any> = { ...outputScale, peftType: 'OTHER', weightPrefix: 'scale_' };
    expect(() => registerTuner(other)).toThrow(/weightPrefix "scale_"/);
    const nested: TunerV1<any> = { ...outputScale, peftType: 'OTHER', weightPrefix: 'scale_v' };
    expect(() => registerTuner(nested)).toThrow(DuplicateTunerError);
  });

  it("registers a tuner that shares another tuner's exact weightPrefix on purpose", () => {
    registerTuner(outputScale);
    const sharing: TunerV1<any> = { ...outputScale, peftType: 'SHARING', sharesWeightPrefix: true };
    registerTuner(sharing);
    expect(getTuner('SHARING')).toBe(sharing);
    const nested: TunerV1<any> = { ...outputScale, peftType: 'NESTED', weightPrefix: `${outputScale.weightPrefix}x`, sharesWeightPrefix: true };
    expect(() => registerTuner(nested)).toThrow(DuplicateTunerError);
    unregisterTuner('SHARING');
  });

  it('refuses unknown specification versions with a clear error', () => {
    const future = { ...outputScale, specificationVersion: 'v9' } as unknown as TunerV1<any>;
    expect(() => registerTuner(future)).toThrow(UnsupportedTunerVersionError);
    expect(() => registerTuner(future)).toThrow(/"v9".*supports: v1/);
  });

  it('names the registered tuners and the package to install when a peft_type is missing', () => {
    registerTuner(outputScale);
    try {
      getTuner('LORA', { packageName: '@peftjs/lora' });
      expect.unreachable();
    } catch (error) {
      expect(NoSuchTunerError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(/"LORA".*OUTPUT_SCALE.*@peftjs\/lora/);
    }
  });

  it('shares registries between two copies of core through globalThis', async () => {
    registerTuner(outputScale);
    vi.resetModules();
    const secondCopy = (await import(/* @vite-ignore */ `./tuner-registry?copy=${2}`)) as typeof import('./tuner-registry');
    expect(secondCopy.getTuner('OUTPUT_SCALE')).toBe(outputScale);
  });
});
