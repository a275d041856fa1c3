import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll } from 'vitest';
import { registerTuner } from '@peftjs/core';
import { describeTunerConformance } from '@peftjs/core/testing';
import { describeConvReference, lycorisConformanceCases } from '@peftjs/lycoris/testing';
import { loha } from './index';

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(loha);
});

describeTunerConformance(loha, lycorisConformanceCases());

describeConvReference(loha);
