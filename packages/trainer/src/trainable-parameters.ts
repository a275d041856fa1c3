import { getTuner, ModulesToSaveLayer, namedLayers, type ParamRef, type PeftModel } from '@peftjs/core';

/** One trainable tensor of a PeftModel, under the key checkpoints and `--init-state` use. */
export interface TrainableParameter {
  /**
   * PEFT's state-dict key without the adapter name: the adapter file's key where PEFT saves the
   * tensor as is (`base_model.model.<path>.lora_A.weight`, `prompt_embeddings`), else the PEFT
   * parameter name with the adapter segment removed (`prompt_encoder.mlp_head.0.weight`,
   * `base_model.model.<path>.base_layer.bias`).
   */
  readonly key: string;
  /** The in-memory name (`<path>.lora_A.default.weight`), as PeftModel.namedParameters() lists it. */
  readonly name: string;
  readonly param: ParamRef;
  /** The tfjs shape of the variable. */
  readonly shape: readonly number[];
  /** HF Trainer's groups: false for anything named "bias" and for norm-layer weights. */
  readonly decay: boolean;
}

function withoutAdapterSegment(name: string, adapterNames: readonly string[]): string {
  const result = name.replace(/\.modules_to_save\.([^.]+)(?=\.|$)/, (match, adapter: string) => (adapterNames.includes(adapter) ? '' : match));
  for (const adapter of adapterNames) {
    const segment = `.${adapter}`;
    const at = result.indexOf(`${segment}.`);
    if (at >= 0) return result.slice(0, at) + result.slice(at + segment.length);
    if (result.endsWith(segment)) return result.slice(0, -segment.length);
  }
  return result;
}

/** `<path>.<methodPrefix><module>.<adapter>.<rest>` → `prompt_encoder.<module>.<rest>`, PEFT's name for a prompt encoder's tensors. */
function promptEncoderKey(name: string, weightPrefix: string, adapterNames: readonly string[]): string | undefined {
  const at = name.indexOf(`.${weightPrefix}`);
  const local = at >= 0 ? name.slice(at + 1 + weightPrefix.length) : name.startsWith(weightPrefix) ? name.slice(weightPrefix.length) : undefined;
  if (local === undefined) return undefined;
  return `prompt_encoder.${withoutAdapterSegment(local, adapterNames)}`;
}

/**
 * Every trainable tensor of the model (variables marked trainable), in the model's parameter
 * order, with its checkpoint key and weight-decay group.
 */
export function trainableParameters(peftModel: PeftModel): TrainableParameter[] {
  const adapterNames = peftModel.adapterNames;
  const config = Object.values(peftModel.peftConfig)[0];
  const tuner = config ? getTuner(config.peftType) : undefined;
  // Prompt learning (a tuner that picks its own layers and saves in a format of its own) keys its
  // tensors as PEFT's prompt encoder; layer tuners with a format of their own (VeRA, BOFT) keep the per-layer keys.
  const ownFormat = tuner?.stateDictFormat !== undefined && typeof tuner.selectTargets === 'function';
  const norms = namedLayers(peftModel.model)
    // HF's ALL_LAYERNORM_LAYERS: torch's LayerNorm and the RMSNorms transformers appends (Llama, T5).
    .filter((entry) => /LayerNorm|RMSNorm/i.test((ModulesToSaveLayer.isModulesToSaveLayer(entry.layer) ? entry.layer.originalModule : entry.layer).getClassName()))
    .map((entry) => entry.path);
  const inNorm = (name: string) => {
    const modulePath = name.replace(/\.modules_to_save\.[^.]+(?=\.)/, '');
    return norms.some((path) => modulePath.startsWith(`${path}.`) && !modulePath.slice(path.length + 1).includes('.'));
  };
  const result: TrainableParameter[] = [];
  const trainable = [...peftModel.namedParameters()].filter(([, param]) => param.variable.trainable);
  const encoderKeys = trainable.map(([name]) => (ownFormat && tuner ? promptEncoderKey(name, tuner.weightPrefix, adapterNames) : undefined));
  // A format of its own with per-layer tensors (adaption prompt's gate in every adapted layer) is no prompt encoder: path-qualified keys.
  const perLayer = encoderKeys.some((key, index) => key !== undefined && encoderKeys.indexOf(key) !== index);
  trainable.forEach(([name, param], index) => {
    const encoderKey = perLayer ? undefined : encoderKeys[index];
    const key = encoderKey ?? `${ownFormat ? 'base_model.' : 'base_model.model.'}${withoutAdapterSegment(name, adapterNames)}`;
    result.push({ key, name, param, shape: [...param.variable.shape] as number[], decay: !/bias/.test(name) && !inNorm(name) });
  });
  // A prompt without an encoder is saved as is: PEFT's adapter file calls it prompt_embeddings.
  const encoder = result.filter((entry) => entry.key.startsWith('prompt_encoder.'));
  if (encoder.length === 1 && encoder[0]!.key === 'prompt_encoder.embedding.weight') {
    result[result.indexOf(encoder[0]!)] = { ...encoder[0]!, key: 'prompt_embeddings' };
  }
  const seen = new Set<string>();
  for (const entry of result) {
    if (seen.has(entry.key)) throw new Error(`two trainable tensors share the key ${entry.key}: train one adapter at a time`);
    seen.add(entry.key);
  }
  return result;
}
