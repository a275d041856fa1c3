import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
await tf.setBackend('wasm');
const mode = process.argv[2] || '';
const swapLast = (r) => { const p = [...Array(r).keys()]; [p[r-2], p[r-1]] = [p[r-1], p[r-2]]; return p; };
const T = (x) => tf.transpose(x, swapLast(x.rank));
if (mode.includes('g')) {
  tf.registerGradient({ kernelName: 'BatchMatMul', inputsToSave: ['a','b'], gradFunc: (dy, [a,b], {transposeA, transposeB}) => {
    if (!transposeA && !transposeB) return { a: () => tf.matMul(dy, T(b)), b: () => tf.matMul(T(a), dy) };
    if (!transposeA && transposeB) return { a: () => tf.matMul(dy, b), b: () => tf.matMul(T(dy), a) };
    if (transposeA && !transposeB) return { a: () => tf.matMul(b, T(dy)), b: () => tf.matMul(a, dy) };
    return { a: () => T(tf.matMul(dy, b)), b: () => T(tf.matMul(a, dy)) };
  }});
}
if (mode.includes('k')) {
  for (const name of ['BatchMatMul']) {
    const stock = tf.getKernel(name, 'wasm');
    const tr = tf.getKernel('Transpose', 'wasm').kernelFunc;
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...stock, setupFunc: undefined, kernelFunc: (args) => {
      const { inputs, backend, attrs } = args;
      const { transposeA, transposeB } = attrs;
      if (!transposeA && !transposeB) return stock.kernelFunc(args);
      const tmp = [];
      let { a, b } = inputs;
      if (transposeA) { a = tr({ inputs: { x: a }, backend, attrs: { perm: swapLast(a.shape.length) } }); tmp.push(a); }
      if (transposeB) { b = tr({ inputs: { x: b }, backend, attrs: { perm: swapLast(b.shape.length) } }); tmp.push(b); }
      const out = stock.kernelFunc({ inputs: { ...inputs, a, b }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
      for (const t of tmp) backend.disposeData(t.dataId);
      return out;
    }});
  }
}
if (mode.includes('i')) {
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({ kernelName: 'Identity', backendName: 'wasm', kernelFunc: ({ inputs: { x }, backend }) => { backend.incRef(x.dataId); return { dataId: x.dataId, shape: x.shape, dtype: x.dtype }; } });
}
const x = tf.randomNormal([64, 512]), y = tf.randomNormal([64, 512]);
// core-ops MLP
const ws = [0,1,2,3].map(() => tf.variable(tf.mul(tf.randomNormal([512,512]), 0.04))), bs = [0,1,2,3].map(() => tf.variable(tf.zeros([512])));
const opt = tf.train.adam(1e-3);
const stepCore = () => { const l = opt.minimize(() => { let h = x; ws.forEach((w, i) => { h = tf.add(tf.matMul(h, w), bs[i]); if (i < 3) h = tf.relu(h); }); return tf.losses.meanSquaredError(y, h); }, true); l.dataSync(); l.dispose(); };
const model = tfl.sequential({ layers: [0,1,2,3].map(i => tfl.layers.dense({ units: 512, inputShape: i === 0 ? [512] : undefined, activation: i < 3 ? 'relu' : 'linear' })) });
const opt2 = tf.train.adam(1e-3);
const stepLayers = () => { const l = opt2.minimize(() => tf.losses.meanSquaredError(y, model.apply(x)), true); l.dataSync(); l.dispose(); };
const time = (f, n = 8) => { f(); f(); const xs = []; for (let i = 0; i < n; i++) { const t0 = performance.now(); f(); xs.push(performance.now() - t0); } xs.sort((p, q) => p - q); return xs[n >> 1].toFixed(1); };
const n0 = tf.memory().numTensors;
console.log(mode || 'stock', 'core', time(stepCore), 'layers', time(stepLayers), 'leak', tf.memory().numTensors - n0);
const prof = await tf.profile(() => { stepCore(); });
const agg = {};
for (const k of prof.kernels) { const key = k.name + ' ' + JSON.stringify(k.inputShapes) + JSON.stringify(k.extraInfo||''); agg[key] = agg[key] || [0, 0]; agg[key][0]++; agg[key][1] += await k.kernelTimeMs; }
Object.entries(agg).sort((p, q) => q[1][1] - p[1][1]).slice(0, 12).forEach(([k, v]) => console.log(v[0], v[1].toFixed(2), k));
