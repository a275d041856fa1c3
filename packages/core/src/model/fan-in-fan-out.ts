import type { layers } from '@tensorflow/tfjs-layers';
import type { PeftConfig } from '../config/config-schema';
import type { LayerContext } from '../spec/tuner-v1';
import { warn } from '../util/warn';
import { getLayerFormat } from './layer-parameters';

/** Whether a linear layer class stores its weight as torch's GPT-2 Conv1D does (`[in, out]`, fan_in_fan_out). */
export function isFanInFanOutLayer(layer: layers.Layer): boolean {
  const className = layer.getClassName();
  if (className === 'Dense') return false;
  const rule = Object.values(getLayerFormat(className)?.weights ?? {}).find((entry) => entry.torchName === 'weight');
  return rule !== undefined && (rule.toTorchPermutation === undefined || rule.toTorchPermutation.length === 0);
}

/**
 * PEFT forces `fan_in_fan_out` per layer (false for Linear, true for Conv1D), warns, and writes
 * the corrected value back to the config: the tuners with that option call this before wrapping.
 */
export function correctFanInFanOut(layer: layers.Layer, context: LayerContext<PeftConfig & { fanInFanOut: boolean }>): void {
  const expected = isFanInFanOutLayer(layer);
  if (context.config.fanInFanOut === expected) return;
  warn(
    expected
      ? `fan_in_fan_out is set to False but the target module "${context.path}" is a ${layer.getClassName()} with an [in, out] weight (like GPT-2's Conv1D). Setting fan_in_fan_out to True.`
      : `fan_in_fan_out is set to True but the target module "${context.path}" is a ${layer.getClassName()} (torch Linear). Setting fan_in_fan_out to False.`,
  );
  (context.config as { fanInFanOut: boolean }).fanInFanOut = expected;
}
