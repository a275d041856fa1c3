import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
await tf.setBackend('wasm');
const time = (label, f, n = 10) => { f(); const xs = []; for (let i = 0; i < n; i++) { const t0 = performance.now(); tf.tidy(() => { f(); }); xs.push(performance.now() - t0); } xs.sort((p, q) => p - q); console.log(label, xs[n >> 1].toFixed(2), xs[0].toFixed(2), xs[n-1].toFixed(2)); };
const kind = process.argv[2];
const a = kind === 'u' ? tf.randomUniform([64, 512]) : kind === 'o' ? tf.ones([64,512]) : tf.randomNormal([64, 512]);
const b = kind === 'u' ? tf.randomUniform([512, 512]) : kind === 'o' ? tf.ones([512,512]) : tf.randomNormal([512, 512]);
time('tB', () => tf.matMul(a, b, false, true));
time('tA', () => tf.matMul(a, a, true, false));
