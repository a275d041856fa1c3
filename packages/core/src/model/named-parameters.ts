import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { ParamRef } from '../spec/param-ref';
import { TunerLayer } from '../spec/tuner-layer';
import { layerParameters } from './layer-parameters';
import { ModulesToSaveLayer } from './modules-to-save-layer';
import { namedLayers } from './named-layers';

/**
 * Every parameter of a model under the name PyTorch + PEFT give it in memory
 * (`lin0.base_layer.weight`, `lin0.<prefix>A.default.weight`, `lin1.modules_to_save.default.bias`),
 * each variable once (a shared layer is listed under its first path), like named_parameters().
 */
export function namedParameters(model: LayersModel): Map<string, ParamRef> {
  const result = new Map<string, ParamRef>();
  const seen = new Set<number>();
  for (const entry of namedLayers(model)) {
    if (entry.isContainer) continue;
    const layer = entry.layer;
    const params = TunerLayer.isTunerLayer(layer) || ModulesToSaveLayer.isModulesToSaveLayer(layer) ? layer.namedParameters() : layerParameters(layer);
    for (const [name, param] of params) {
      if (seen.has(param.variable.id)) continue;
      seen.add(param.variable.id);
      result.set(`${entry.path}.${name}`, param);
    }
  }
  return result;
}
