import { describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../errors';
import { checkTargetingFields, closestLayerNames, isTargeted, layerIndexOf, matchesModulesToSave } from './match-target';

// PEFT's REGEX_TEST_CASES (tests/test_tuners_utils.py): key, target_modules, layers_to_transform, layers_pattern, expected.
const cases: Array<[string, string | string[], number | number[] | null, string | string[] | null, boolean]> = [
  ['', [], null, null, false],
  ['', ['foo'], null, null, false],
  ['foo', [], null, null, false],
  ['foo', ['foo'], null, null, true],
  ['foo', ['bar'], null, null, false],
  ['foo', ['foo', 'bar'], null, null, true],
  ['foo', 'foo', null, null, true],
  ['foo', '.*oo', null, null, true],
  ['foo', 'fo.*', null, null, true],
  ['foo', '.*bar.*', null, null, false],
  ['foobar', '.*oba.*', null, null, true],
  ['foo.bar.1.baz', ['baz'], [1], ['bar'], true],
  ['foo.bar.1.baz', ['baz'], [0], ['bar'], false],
  ['foo.bar.1.baz', ['baz'], [2], ['bar'], false],
  ['foo.bar.10.baz', ['baz'], [0], ['bar'], false],
  ['foo.bar.10.baz', ['baz'], [1], ['bar'], false],
  ['foo.bar.1.baz', ['baz'], [0, 1, 2], ['bar'], true],
  ['foo.bar.1.baz', ['baz', 'spam'], [1], ['bar'], true],
  ['foo.bar.1.baz', ['baz', 'spam'], [0, 1, 2], ['bar'], true],
  ['foo.bar.7.baz', ['baz'], [], ['bar'], true],
  ['foo.bar.7.baz', ['baz'], null, ['bar'], true],
  ['foo.whatever.1.baz', ['baz'], [1], [], true],
  ['foo.whatever.1.baz', ['baz'], [0], [], false],
  ['foo.whatever.1.baz', ['baz'], [1], '', true],
  ['foo.whatever.1.baz', ['baz'], [0], '', false],
  ['foo.whatever.1.baz', ['baz'], [1], null, true],
  ['foo.whatever.1.baz', ['baz'], [0], null, false],
  // PEFT before 0.7 matched a pattern without a dot boundary; 0.11.1 needs '.<pattern>.<index>.'
  ['foo.bar.1.baz', ['baz'], [1], ['ar'], false],
  ['transformer.h.1.attn.attention.q_proj.foo', ['q_proj'], null, [], false],
  ['transformer.h.1.attn.attention.q_proj', [], null, [], false],
  ['transformer.h.1.attn.attention.q_proj', ['q_proj'], null, [], true],
  ['transformer.h.1.attn.attention.q_proj', ['q_proj', 'v_proj'], null, [], true],
  ['transformer.h.1.attn.attention.resid_dropout', ['q_proj', 'v_proj'], null, [], false],
  ['transformer.h.1.attn.attention.q_proj', ['q_proj'], [1], ['h'], true],
  ['transformer.h.1.attn.attention.q_proj', ['q_proj'], [0], ['h'], false],
  ['transformer.h.1.attn.attention.q_proj', ['q_proj'], [2], ['h'], false],
  ['transformer.h.1.attn.attention.q_proj', ['q_proj'], [0, 1, 2], ['h'], true],
  ['transformer.h.1.attn.attention.q_proj', ['q_proj', 'v_proj'], [0, 1, 2], ['h'], true],
  ['foo.bar.q_proj', ['q_proj'], null, [], true],
  ['foo.bar.1.baz', ['baz'], 1, ['bar'], true],
  ['blocks.1.weight', ['weight'], [1], ['blocks'], false],
  ['blocks.1.bias', ['weight'], [1], ['blocks'], false],
  ['mlp.blocks.1.weight', ['weight'], [1], ['blocks'], true],
  ['mlp.blocks.1.bias', ['weight'], [1], ['blocks'], false],
  ['foo.bar.001.baz', ['baz'], [1], ['bar'], true],
  ['model.layers.3.self_attn.q_proj', ['self_attn.q_proj'], null, null, true],
  ['model.layers.3.self_attn.q_proj', ['attn.q_proj'], null, null, false],
];

describe('target matching (PEFT REGEX_TEST_CASES)', () => {
  it.each(cases)('%s with %j, layers %j, pattern %j → %s', (key, targetModules, layersToTransform, layersPattern, expected) => {
    expect(isTargeted(key, { targetModules, layersToTransform, layersPattern })).toBe(expected);
  });

  it('finds the layer index after the last matching pattern', () => {
    expect(layerIndexOf('model.layers.12.mlp.down_proj', 'layers')).toBe(12);
    expect(layerIndexOf('model.layers.12.mlp.down_proj', null)).toBe(12);
    expect(layerIndexOf('lin0', null)).toBeUndefined();
  });

  it('matches modules_to_save by suffix without a dot boundary, as PEFT does', () => {
    expect(matchesModulesToSave('bert.classifier', ['classifier'])).toBe(true);
    expect(matchesModulesToSave('score', ['classifier', 'score'])).toBe(true);
    expect(matchesModulesToSave('lin1', ['lin0'])).toBe(false);
    expect(matchesModulesToSave('lin1', null)).toBe(false);
  });

  it('refuses layers_to_transform with a regex target, naming the field', () => {
    try {
      checkTargetingFields({ targetModules: 'lin.*', layersToTransform: [0], layersPattern: null });
      expect.unreachable();
    } catch (error) {
      expect(InvalidConfigError.isInstance(error)).toBe(true);
      expect((error as InvalidConfigError).field).toBe('layers_to_transform');
    }
    expect(() => checkTargetingFields({ targetModules: ['lin0'], layersToTransform: [0], layersPattern: 'layers' })).not.toThrow();
  });

  it('rejects an invalid regex with a clear error', () => {
    expect(() => isTargeted('lin0', { targetModules: 'lin[' })).toThrow(/not a valid regular expression/);
  });

  it('lists the closest layer names with counts', () => {
    const paths = ['model.layers.0.self_attn.q_proj', 'model.layers.1.self_attn.q_proj', 'model.layers.0.self_attn.k_proj', 'model.layers.1.self_attn.k_proj', 'lm_head'];
    expect(closestLayerNames('q_prj', paths, 2)).toEqual(['q_proj (×2)', 'k_proj (×2)']);
  });
});
