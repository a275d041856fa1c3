import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { loadSafetensors } from '@peftjs/hub';
import { peftFixturePath } from '../../../../test-fixtures/index';
import { loadFixtureBaseModel } from '../../../../test-fixtures/torch-models';
import { readFileSync } from 'node:fs';

/** A JSON file of the reference cases, by its path under test-fixtures/peft. */
export function readJson<T = Record<string, unknown>>(relative: string): T {
  return JSON.parse(readFileSync(peftFixturePath(relative), 'utf8')) as T;
}

/** A safetensors file of the reference cases (the caller disposes the tensors). */
export function readTensors(relative: string): Promise<Record<string, tf.Tensor>> {
  return loadSafetensors(peftFixturePath(relative));
}

/** The fixtures' MLP with the base weights loaded. */
export function loadMlp(caseName: string): Promise<tfl.LayersModel> {
  return loadFixtureBaseModel(caseName);
}

/** net-lora-conv-emb's EmbConvNet (ids, NHWC img) with the base weights loaded. */
export function loadEmbConvNet(caseName = 'net-lora-conv-emb'): Promise<tfl.LayersModel> {
  return loadFixtureBaseModel(caseName);
}
