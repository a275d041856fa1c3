import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
await tf.setBackend('wasm');
const stock = tf.getKernel('BatchMatMul', 'wasm');
const log = {};
tf.unregisterKernel('BatchMatMul', 'wasm');
tf.registerKernel({ ...stock, setupFunc: undefined, kernelFunc: (args) => {
  const t0 = performance.now(); const out = stock.kernelFunc(args); const dt = performance.now() - t0;
  const key = `${JSON.stringify(args.inputs.a.shape)}x${JSON.stringify(args.inputs.b.shape)} tA=${args.attrs.transposeA} tB=${args.attrs.transposeB}`;
  log[key] = log[key] || []; log[key].push(dt); return out; } });
const x = tf.randomNormal([64, 512]), y = tf.randomNormal([64, 512]);
const ws = [0,1,2,3].map(() => tf.variable(tf.mul(tf.randomNormal([512,512]), 0.04))), bs = [0,1,2,3].map(() => tf.variable(tf.zeros([512])));
const opt = tf.train.adam(1e-3);
const stepCore = () => { const l = opt.minimize(() => { let h = x; ws.forEach((w, i) => { h = tf.add(tf.matMul(h, w), bs[i]); if (i < 3) h = tf.relu(h); }); return tf.losses.meanSquaredError(y, h); }, true); l.dataSync(); l.dispose(); };
for (let i = 0; i < 5; i++) { const t0 = performance.now(); stepCore(); console.log('step', (performance.now() - t0).toFixed(1)); }
for (const [k, v] of Object.entries(log)) console.log(k, v.length, v.slice(-6).map(t => t.toFixed(1)).join(' '));
const a = tf.randomNormal([64, 512]);
for (let i = 0; i < 3; i++) { const t0 = performance.now(); tf.matMul(a, ws[0], false, true).dispose(); console.log('direct tB', (performance.now() - t0).toFixed(1)); }
for (let i = 0; i < 3; i++) { const t0 = performance.now(); tf.matMul(a, y, true, false).dispose(); console.log('direct tA', (performance.now() - t0).toFixed(1)); }
