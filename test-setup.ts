// Every test worker: tfjs' own console warnings (the cpu backend's "install our node backend"
// banner on first use, once per worker) are for applications, not test logs.
import * as tf from '@tensorflow/tfjs-core';

tf.env().set('IS_TEST', true);
