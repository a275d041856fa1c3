import type { layers } from '@tensorflow/tfjs-layers';

/**
 * A layer that holds other layers outside the tfjs graph (a transformer block that calls its
 * own projections, say). Implementing this makes its children visible to targeting under
 * `<path>.<child name>` and replaceable by tuners, as torch's named_modules() does.
 */
export interface PeftContainer {
  peftChildLayers(): ReadonlyArray<readonly [string, layers.Layer]>;
  peftReplaceChildLayer(childName: string, layer: layers.Layer): void;
}

export function isPeftContainer(value: unknown): value is PeftContainer {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as PeftContainer).peftChildLayers === 'function' &&
    typeof (value as PeftContainer).peftReplaceChildLayer === 'function'
  );
}
