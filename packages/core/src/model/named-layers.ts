import { LayersModel, type layers } from '@tensorflow/tfjs-layers';
import { isPeftContainer, type PeftContainer } from '../spec/peft-container';
import { TunerLayer } from '../spec/tuner-layer';
import { ModulesToSaveLayer } from './modules-to-save-layer';

/** Where a layer sits: in a LayersModel's graph, or as a child of a PeftContainer. */
export type LayerParent = { kind: 'model'; model: LayersModel } | { kind: 'container'; container: PeftContainer; childName: string };

export interface NamedLayer {
  /** The module path, as transformers names modules: `model.layers.0.self_attn.q_proj`. */
  readonly path: string;
  readonly layer: layers.Layer;
  readonly parent: LayerParent;
  /** A model or container that holds other layers (not itself adaptable). */
  readonly isContainer: boolean;
}

export function isLayersModel(layer: unknown): layer is LayersModel {
  return layer instanceof LayersModel || (typeof layer === 'object' && layer !== null && 'layers' in layer && 'outputs' in layer && 'inputs' in layer);
}

function childPath(prefix: string, name: string): string {
  if (!prefix) return name;
  // Models built with full module paths as layer names keep them as they are.
  return name.startsWith(`${prefix}.`) ? name : `${prefix}.${name}`;
}

/**
 * Every layer of a model with its module path, depth first, like torch's named_modules():
 * nested models and PeftContainers are listed and entered; tuner layers are listed, not entered.
 */
export function namedLayers(model: LayersModel, prefix = ''): NamedLayer[] {
  const result: NamedLayer[] = [];
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    const path = childPath(prefix, layer.name);
    visit(layer, path, { kind: 'model', model }, result);
  }
  return result;
}

function visit(layer: layers.Layer, path: string, parent: LayerParent, result: NamedLayer[]): void {
  if (TunerLayer.isTunerLayer(layer) || ModulesToSaveLayer.isModulesToSaveLayer(layer)) {
    result.push({ path, layer, parent, isContainer: false });
    return;
  }
  if (isLayersModel(layer)) {
    result.push({ path, layer, parent, isContainer: true });
    result.push(...namedLayers(layer, path));
    return;
  }
  if (isPeftContainer(layer)) {
    result.push({ path, layer, parent, isContainer: true });
    for (const [childName, child] of layer.peftChildLayers()) {
      visit(child, `${path}.${childName}`, { kind: 'container', container: layer, childName }, result);
    }
    return;
  }
  result.push({ path, layer, parent, isContainer: false });
}
