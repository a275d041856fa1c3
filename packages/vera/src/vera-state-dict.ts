import * as tf from '@tensorflow/tfjs-core';
import { AdapterFormatError, warn, type AdapterLayerEntry, type AdapterStateDictFormat } from '@peftjs/core';
import { VeraDense, type VeraAdapterOptions } from './vera-layer';

/** Where PEFT 0.11.1 saves the shared pair: no module path, no adapter name. */
export const VERA_A_KEY = 'base_model.vera_A';
export const VERA_B_KEY = 'base_model.vera_B';

function veraLayers(layers: readonly AdapterLayerEntry[], adapterName: string): VeraDense[] {
  return layers.map(({ layer }) => layer).filter((layer): layer is VeraDense => layer instanceof VeraDense && layer.hasAdapter(adapterName));
}

function savesProjection(layers: readonly VeraDense[], adapterName: string): boolean {
  return layers.length > 0 && layers[0]!.getAdapterOptions<VeraAdapterOptions>(adapterName).saveProjection;
}

function sameShape(value: tf.Tensor, expected: readonly number[]): boolean {
  return value.rank === expected.length && value.shape.every((size, index) => size === expected[index]);
}

/**
 * VeRA's files as PEFT 0.11.1 writes them: core's per-layer keys (`vera_lambda_b`, `vera_lambda_d`,
 * biases per `bias`) plus, with `save_projection`, the shared pair as `base_model.vera_A` /
 * `base_model.vera_B`. Without it the pair is regenerated from `projection_prng_key`.
 */
export const veraStateDictFormat: AdapterStateDictFormat = {
  shapes(layers, adapterName, defaults) {
    const shapes = defaults.shapes();
    const adapted = veraLayers(layers, adapterName);
    if (savesProjection(adapted, adapterName)) {
      const projections = adapted[0]!.projectionsOf(adapterName);
      shapes[VERA_A_KEY] = [...projections.a.shape];
      shapes[VERA_B_KEY] = [...projections.b.shape];
    }
    return shapes;
  },
  save(layers, adapterName, defaults) {
    const tensors = defaults.save();
    const adapted = veraLayers(layers, adapterName);
    if (savesProjection(adapted, adapterName)) {
      const projections = adapted[0]!.projectionsOf(adapterName);
      tensors[VERA_A_KEY] = projections.a.clone();
      tensors[VERA_B_KEY] = projections.b.clone();
    }
    return tensors;
  },
  load(layers, adapterName, tensors, defaults) {
    const adapted = veraLayers(layers, adapterName);
    const { [VERA_A_KEY]: savedA, [VERA_B_KEY]: savedB, ...rest } = tensors;
    const present = savedA !== undefined || savedB !== undefined;
    const wanted = savesProjection(adapted, adapterName);
    if (wanted && (savedA === undefined || savedB === undefined)) {
      throw new AdapterFormatError(
        `Specified to load vera_A and vera_B from state dictionary however they were not present! (adapter "${adapterName}" has save_projection true; the file lacks ${savedA === undefined ? VERA_A_KEY : VERA_B_KEY})`,
        {
          tensorName: savedA === undefined ? VERA_A_KEY : VERA_B_KEY,
        },
      );
    }
    if (!wanted && present) {
      warn(
        'Specified to not load vera_A and vera_B from state dictionary however they are present in state dictionary! Consider using them to ensure checkpoint loading is correct on all platforms using `peft_config.save_projection = True`',
      );
    }
    if (wanted && adapted.length > 0) {
      const projections = adapted[0]!.projectionsOf(adapterName);
      for (const [key, value, expected] of [
        [VERA_A_KEY, savedA!, projections.a.shape],
        [VERA_B_KEY, savedB!, projections.b.shape],
      ] as const) {
        if (!sameShape(value, expected))
          throw new AdapterFormatError(`tensor "${key}" has shape [${value.shape.join(', ')}]; the model expects [${expected.join(', ')}]`, { tensorName: key });
      }
    }
    const write = defaults.prepareLoad(rest);
    if (wanted) {
      // Layers rebuilt from a serialized model hold a pair each; layers of one injection share one.
      for (const projections of new Set(adapted.map((layer) => layer.projectionsOf(adapterName)))) projections.replace(savedA!, savedB!);
    }
    write();
  },
};
