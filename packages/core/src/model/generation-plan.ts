import type { LayersModel } from '@tensorflow/tfjs-layers';
import { getTuner, hasTuner } from '../registry/tuner-registry';
import type { GenerationPlan } from '../spec/generation-hooks';
import { TunerLayer } from '../spec/tuner-layer';
import { namedLayers } from './named-layers';

/**
 * The generation plan of the tuners whose layers `model` holds (the first that has one), or
 * undefined: a model without adapters, or whose adapters leave generation as it is.
 */
export function generationPlan(model: LayersModel): GenerationPlan | undefined {
  const peftTypes = new Set<string>();
  for (const { layer } of namedLayers(model)) if (TunerLayer.isTunerLayer(layer)) peftTypes.add(layer.peftType);
  for (const peftType of peftTypes) {
    const plan = hasTuner(peftType) ? getTuner(peftType).generation?.plan(model) : undefined;
    if (plan) return plan;
  }
  return undefined;
}
