import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerTuner, setWarningHandler } from '@peftjs/core';
import { maxCloseViolation } from '@peftjs/core/testing';
import { ia3 } from '@peftjs/ia3';
import { lora } from '@peftjs/lora';
import { AutoModelForCausalLM, AutoModelForSequenceClassification } from '@peftjs/models';
import { peftCase, peftFixturePath } from '../../../test-fixtures/index';
import { fixtureInputs, loadFixtureBaseModel, loadFixtureTensors } from '../../../test-fixtures/torch-models';
import { fromPretrained, loadSafetensors, pushFolderToHub, savePretrained } from '@peftjs/hub';
import { startFakeHub } from '@peftjs/hub/testing';

interface AdapterCase {
  caseName: string;
  adapterName: string;
  folder: string[];
  expected: string;
}

/** Every adapter folder in the fixtures, with the output it must reproduce. */
function adapterCases(caseNames: string[]): AdapterCase[] {
  return caseNames.flatMap((caseName) =>
    (peftCase(caseName).adapters as Array<{ name: string; path: string; expected: string }>).map((adapter) => ({
      caseName,
      adapterName: adapter.name,
      folder: adapter.path.split('/'),
      expected: adapter.expected,
    })),
  );
}

async function baseModelFor(caseName: string): Promise<LayersModel> {
  if (caseName.startsWith('mlp-') || caseName.startsWith('net-')) return loadFixtureBaseModel(caseName);
  const folder = peftFixturePath(caseName, 'base');
  return caseName.startsWith('bert-') ? AutoModelForSequenceClassification.fromPretrained(folder) : AutoModelForCausalLM.fromPretrained(folder);
}

function inputsFor(caseName: string, io: Record<string, tf.Tensor>): tf.Tensor | tf.Tensor[] {
  if (caseName.startsWith('mlp-') || caseName.startsWith('net-')) return fixtureInputs(io);
  const names = (peftCase(caseName).inputs as Array<{ name: string }>).map((input) => input.name);
  return names.map((name) => tf.cast(io[name]!, 'int32'));
}

function sortedConfig(raw: Record<string, unknown>): Record<string, unknown> {
  const config = { ...raw };
  if (Array.isArray(config.target_modules)) config.target_modules = [...(config.target_modules as string[])].sort();
  if (Array.isArray(config.feedforward_modules)) config.feedforward_modules = [...(config.feedforward_modules as string[])].sort();
  return config;
}

const cases = adapterCases(['mlp-lora', 'mlp-lora-rslora-dora', 'net-lora-conv-emb', 'mlp-multi-adapter', 'mlp-ia3', 'gpt2-lora', 'llama-lora', 'bert-seqcls-lora']);

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(lora);
  registerTuner(ia3);
  setWarningHandler(() => {});
});

let folder: string;
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'peftjs-fixture-adapters-'));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe('every Python PEFT adapter in the fixtures', () => {
  it.each(cases.map((entry) => [`${entry.caseName}/${entry.folder.join('/')}`, entry] as const))(
    '%s loads, reproduces its output, and re-saves identically',
    async (_label, entry) => {
      const { caseName, adapterName, expected } = entry;
      const json = peftCase(caseName);
      const io = await loadFixtureTensors(caseName, 'io.safetensors');
      const inputs = inputsFor(caseName, io);
      const adapterFolder = peftFixturePath(caseName, ...entry.folder);
      const base = await baseModelFor(caseName);
      const peftModel = await fromPretrained(base, adapterFolder, { adapterName });
      const output = peftModel.model.predict(inputs) as tf.Tensor;
      expect(await maxCloseViolation(output, io[expected]!, json.atol, json.rtol), `output vs ${expected}`).toBe(0);

      const out = join(folder, caseName, entry.folder.join('-'));
      await savePretrained(peftModel, out);
      const savedFolder = adapterName === 'default' ? out : join(out, adapterName);
      const python = await loadSafetensors(join(adapterFolder, 'adapter_model.safetensors'));
      const ours = await loadSafetensors(join(savedFolder, 'adapter_model.safetensors'));
      expect(Object.keys(ours).sort()).toEqual(Object.keys(python).sort());
      for (const key of Object.keys(python)) {
        expect(ours[key]!.shape, key).toEqual(python[key]!.shape);
        expect(await maxCloseViolation(ours[key]!, python[key]!, 0, 0), key).toBe(0);
      }
      const pythonConfig = JSON.parse(await readFile(join(adapterFolder, 'adapter_config.json'), 'utf8'));
      const ourConfig = JSON.parse(await readFile(join(savedFolder, 'adapter_config.json'), 'utf8'));
      expect(sortedConfig(ourConfig)).toEqual(sortedConfig(pythonConfig));
      tf.dispose([output, ...Object.values(python), ...Object.values(ours), ...Object.values(io)]);
      tf.dispose(inputs);
      peftModel.model.dispose();
    },
  );
});

describe('a round trip through the Hub', () => {
  it('push, download into a fresh cache, load: identical outputs', async () => {
    const hub = await startFakeHub({ tokens: ['hf_test_token'] });
    try {
      const io = await loadFixtureTensors('mlp-lora', 'io.safetensors');
      const inputs = fixtureInputs(io);
      const trained = await fromPretrained(await loadFixtureBaseModel('mlp-lora'), peftFixturePath('mlp-lora', 'adapter'));
      const local = join(folder, 'to-push');
      await savePretrained(trained, local);
      await pushFolderToHub(local, 'me/mlp-lora', { endpoint: hub.url, token: 'hf_test_token', commitMessage: 'first adapter' });
      const cacheDir = join(folder, 'fresh-cache');
      const loaded = await fromPretrained(await loadFixtureBaseModel('mlp-lora'), 'me/mlp-lora', { endpoint: hub.url, token: 'hf_test_token', cacheDir });
      const a = trained.model.predict(inputs) as tf.Tensor;
      const b = loaded.model.predict(inputs) as tf.Tensor;
      expect(await maxCloseViolation(a, b, 0, 0)).toBe(0);
      expect(await maxCloseViolation(b, io.expected_adapted!, 1e-4, 1e-4)).toBe(0);
      tf.dispose([a, b, ...Object.values(io)]);
    } finally {
      await hub.close();
    }
  });
});
