import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { peftFixturePath } from '../../../../test-fixtures/index';
import { InvalidConfigError } from '../errors';
import { setWarningHandler } from '../util/warn';
import { fields } from './config-fields';
import { defineConfigSchema, toPythonJson } from './config-schema';

const schema = defineConfigSchema({
  peftType: 'TEST',
  fields: {
    r: fields.integer(8, { min: 1 }),
    lora_alpha: fields.number(8),
    target_modules: fields.targets(null),
    bias: fields.oneOf('none', ['none', 'all', 'lora_only']),
    rank_pattern: fields.numberRecord({ integer: true, min: 1 }),
  },
  refused: { megatron_config: { isDefault: (value) => value === null, reason: 'Megatron parallel layers do not exist in TensorFlow.js', defaultValue: null } },
});

describe('config schema', () => {
  it('fills every default and reads snake_case or camelCase keys', () => {
    const fromJson = schema.parse({ peft_type: 'TEST', lora_alpha: 16, target_modules: ['q_proj', 'v_proj'] });
    const fromOptions = schema.parse({ loraAlpha: 16, targetModules: ['q_proj', 'v_proj'] });
    expect(fromJson).toEqual(fromOptions);
    expect(fromJson).toMatchObject({ peftType: 'TEST', r: 8, loraAlpha: 16, bias: 'none', rankPattern: {}, taskType: null, inferenceMode: false, revision: null });
  });

  it('keeps module names in rank_pattern as written', () => {
    expect(schema.parse({ rank_pattern: { 'model.layers.0.self_attn.q_proj': 4 } }).rankPattern).toEqual({ 'model.layers.0.self_attn.q_proj': 4 });
  });

  it('names the field, the bad value and the valid choices', () => {
    expect(() => schema.parse({ bias: 'some' })).toThrow('config field "bias" is "some"; expected one of "none", "all", "lora_only"');
    expect(() => schema.parse({ r: 0 })).toThrow(/"r" is 0; expected an integer >= 1/);
    expect(() => schema.parse({ task_type: 'CAUSAL' })).toThrow(/CAUSAL_LM/);
    expect(() => schema.parse({ rank_pattern: { q: 1.5 } })).toThrow(/rank_pattern.q/);
    try {
      schema.parse({ target_modules: 3 });
    } catch (error) {
      expect(InvalidConfigError.isInstance(error)).toBe(true);
      expect((error as InvalidConfigError).field).toBe('target_modules');
    }
  });

  it('refuses fields that cannot apply, with the reason', () => {
    expect(() => schema.parse({ megatron_config: { tp: 2 } })).toThrow(/megatron_config.*Megatron parallel layers/);
    expect(schema.serialize(schema.parse({ megatron_config: null })).megatron_config).toBeNull();
  });

  it('refuses a config of another peft_type', () => {
    expect(() => schema.parse({ peft_type: 'LORA' })).toThrow(/peft_type "LORA"/);
  });

  it('warns about unknown keys, keeps them and writes them back', () => {
    const warnings: string[] = [];
    const previous = setWarningHandler((message) => warnings.push(message));
    try {
      const config = schema.parse({ peft_type: 'TEST', exclude_modules: ['lm_head'], lora_bias: false });
      expect(warnings.join()).toMatch(/exclude_modules, lora_bias/);
      const json = schema.serialize(config);
      expect(json.exclude_modules).toEqual(['lm_head']);
      expect(json.lora_bias).toBe(false);
      warnings.length = 0;
      schema.parse(config);
      expect(warnings).toEqual([]);
    } finally {
      setWarningHandler(previous);
    }
  });

  it('writes JSON laid out as Python json.dumps(indent=2, sort_keys=True)', () => {
    const python = readFileSync(peftFixturePath('mlp-lora', 'adapter', 'adapter_config.json'), 'utf8');
    const parsed = JSON.parse(python);
    // Python writes 0.0 for floats; JSON has one number type, so compare after normalising that.
    expect(toPythonJson(parsed)).toBe(python.replace(/(\d)\.0(,?\n)/g, '$1$2'));
    expect(toPythonJson({ b: 1, a: { d: [], c: 'é' } })).toBe('{\n  "a": {\n    "c": "\\u00e9",\n    "d": []\n  },\n  "b": 1\n}');
  });
});
