import { defineConfigSchema, fields } from '@peftjs/core';

export const OUTPUT_SCALE_PEFT_TYPE = 'OUTPUT_SCALE';

/** The config: which Dense layers get a learned scale on their outputs. */
export const outputScaleConfigSchema = defineConfigSchema({
  peftType: OUTPUT_SCALE_PEFT_TYPE,
  fields: {
    target_modules: fields.targets(null),
    layers_to_transform: fields.layerIndices(),
    layers_pattern: fields.stringOrList(),
    modules_to_save: fields.nullableStringList(null),
    init_scale_weights: fields.boolean(true),
  },
});

export type OutputScaleConfig = ReturnType<typeof outputScaleConfigSchema.parse>;
