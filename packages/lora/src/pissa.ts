import * as tf from '@tensorflow/tfjs-core';
import { namedLayers, NoSuchAdapterError, type PeftModel } from '@peftjs/core';
import { pissaIterations } from './lora-config';
import { LoraLayer } from './lora-layer';
import { matrix, svdJacobi, svdLowRank, type Svd } from './svd';

/**
 * Runs PEFT's PiSSA initialisation (`init_lora_weights: "pissa"` or `"pissa_niter_<n>"`) for an
 * adapter: per layer, W = V·S·Uᵀ; A = diag(√(S_r/s))·U_rᵀ, B = V_r·diag(√(S_r/s)), and the base
 * weight becomes W − s·B·A, so the model's output is unchanged. `"pissa"` uses an exact SVD,
 * `"pissa_niter_<n>"` torch's `svd_lowrank` scheme (randomized, n power iterations).
 *
 * It reads the base weights, so it is asynchronous and runs after `getPeftModel` / `addAdapter`;
 * until it has run, the adapter refuses to run, merge or save. Load trained PiSSA weights
 * (`loadStateDict`) after it, as Python PEFT does. Returns the number of layers initialised.
 */
export async function initializePissa(peftModel: PeftModel, adapterName: string = peftModel.activeAdapter ?? ''): Promise<number> {
  if (!peftModel.adapterNames.includes(adapterName)) throw new NoSuchAdapterError({ adapterName, available: peftModel.adapterNames });
  const layers = namedLayers(peftModel.model)
    .map((entry) => entry.layer)
    .filter((layer): layer is LoraLayer => layer instanceof LoraLayer && layer.hasAdapter(adapterName) && layer.isPendingInit(adapterName));
  for (const layer of layers) {
    const settings = layer.adapterSettings(adapterName);
    const weightTensor = layer.baseWeight();
    const weight = matrix(weightTensor.shape[0], weightTensor.shape[1], await weightTensor.data());
    weightTensor.dispose();
    const niter = pissaIterations(settings.initLoraWeights);
    const svd: Svd = niter === undefined ? svdJacobi(weight) : svdLowRank(weight, settings.r, { niter });
    const { r, scaling } = settings;
    const out = weight.rows;
    const fanIn = weight.cols;
    const a = new Float32Array(r * fanIn);
    const b = new Float32Array(out * r);
    const residual = Float64Array.from(weight.data);
    for (let k = 0; k < r; k++) {
      const root = Math.sqrt((svd.s[k] ?? 0) / scaling);
      for (let j = 0; j < fanIn; j++) a[k * fanIn + j] = root * (svd.v.data[j * svd.v.cols + k] ?? 0);
      for (let i = 0; i < out; i++) b[i * r + k] = root * (svd.u.data[i * svd.u.cols + k] ?? 0);
    }
    // W_res = W − s·B·A with the float32 factors the layer will use.
    for (let i = 0; i < out; i++) {
      for (let k = 0; k < r; k++) {
        const left = scaling * b[i * r + k]!;
        if (left === 0) continue;
        for (let j = 0; j < fanIn; j++) residual[i * fanIn + j] -= left * a[k * fanIn + j]!;
      }
    }
    const factors = { a: tf.tensor2d(a, [r, fanIn]), b: tf.tensor2d(b, [out, r]) };
    const base = tf.tensor2d(Float32Array.from(residual), [out, fanIn]);
    try {
      layer.setFactors(adapterName, factors);
      layer.setBaseWeight(base);
    } finally {
      tf.dispose([factors.a, factors.b, base]);
    }
    layer.markInitialized(adapterName);
    layer.resetMagnitude(adapterName);
  }
  return layers.length;
}
