import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
const cases = [[[4,3,5],[5,2]], [[3,5],[4,5,2]], [[2,1,3,5],[4,5,2]], [[1,3,5],[4,5,2]]];
const res = {};
for (const be of ['cpu','wasm']) {
  await tf.setBackend(be);
  res[be] = [];
  for (const [sa,sb] of cases) {
    const a = tf.tensor(Array.from({length: sa.reduce((x,y)=>x*y)}, (_, i) => Math.sin(i)), sa);
    const b = tf.tensor(Array.from({length: sb.reduce((x,y)=>x*y)}, (_, i) => Math.cos(i)), sb);
    let r; try { r = Array.from(tf.matMul(a,b).dataSync()); } catch (e) { r = 'ERR ' + e.message.slice(0,100); }
    let g; try { g = tf.grads((x,y) => tf.sum(tf.matMul(x,y)))([a,b]).map(t=>t.shape); } catch (e) { g = 'ERR ' + e.message.slice(0,150); }
    res[be].push([r, g]);
  }
}
cases.forEach((c, i) => {
  const [rc, gc] = res.cpu[i], [rw, gw] = res.wasm[i];
  const diff = typeof rc === 'string' || typeof rw === 'string' ? `${rc}|${rw}`.slice(0,200) : Math.max(...rc.map((v,j)=>Math.abs(v-rw[j])));
  console.log(JSON.stringify(c), 'fwd maxdiff', diff, 'grads cpu', JSON.stringify(gc), 'wasm', JSON.stringify(gw));
});
