import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdapterFormatError, getLayerByPath, PeftModel, registerTuner, setWarningHandler } from '@peftjs/core';
import { assertClose, describeTunerConformance, maxCloseViolation } from '@peftjs/core/testing';
import { fromPretrained } from '@peftjs/hub';
import { AutoModelForCausalLM, causalLmLoss, generate, GPT2Conv1D } from '@peftjs/models';
import { vera, VERA_A_KEY, VERA_B_KEY, VeraDense } from '@peftjs/vera';
import { peftCase, peftFixturePath } from '../../../test-fixtures/index';
import { loadFixtureTensors } from '../../../test-fixtures/torch-models';

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(vera);
  setWarningHandler(() => {});
});

const init = (seed: number) => tfl.initializers.randomNormal({ mean: 0, stddev: 0.4, seed });

/** GPT-2-style Conv1D layers (torch weight `[in, out]`) on rank-3 inputs. */
function conv1dNet(): tfl.LayersModel {
  const x = tfl.input({ shape: [4, 6] });
  const h = new GPT2Conv1D({ units: 6, name: 'c_attn', kernelInitializer: init(21), biasInitializer: init(22) }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: new GPT2Conv1D({ units: 6, name: 'c_proj', kernelInitializer: init(23), biasInitializer: init(24) }).apply(h) as tfl.SymbolicTensor });
}

const conv1dInputs = () => tf.randomNormal([2, 4, 6], 0, 1, 'float32', 6);

describeTunerConformance(vera, [
  {
    name: 'GPT-2 Conv1D (fan_in_fan_out), rank-3 inputs',
    makeModel: conv1dNet,
    makeInputs: conv1dInputs,
    config: { r: 2, target_modules: ['c_attn', 'c_proj'], fan_in_fan_out: true, save_projection: false },
  },
]);

async function datasetLoss(model: tfl.LayersModel, rows: number[][]): Promise<number> {
  let weighted = 0;
  let tokens = 0;
  for (const row of rows) {
    const loss = tf.tidy(() => {
      const ids = tf.tensor2d([row], [1, row.length], 'int32');
      return causalLmLoss(ids, model.predict([ids, tf.onesLike(ids)]) as tf.Tensor);
    });
    weighted += (await loss.data())[0]! * (row.length - 1);
    tokens += row.length - 1;
    loss.dispose();
  }
  return weighted / tokens;
}

describe('VeRA on LLaMA, equal to Python PEFT (llama-vera)', () => {
  it('logits, disabled, greedy ids, data loss, merged logits and merged weights match', async () => {
    const json = peftCase('llama-vera');
    const { atol, rtol } = json;
    const io = await loadFixtureTensors('llama-vera', 'io.safetensors');
    const inputs = [tf.cast(io.input_ids!, 'int32'), tf.cast(io.attention_mask!, 'int32')];
    const base = await AutoModelForCausalLM.fromPretrained(peftFixturePath('llama-vera', 'base'));
    const peftModel = await fromPretrained(base, peftFixturePath('llama-vera', 'adapter'));
    expect(peftModel.targetedModuleNames).toHaveLength(4);
    expect(peftModel.trainableParametersReport()).toMatch(/^trainable params: 0 \|\| all params: /);

    expect(await maxCloseViolation(peftModel.model.predict(inputs) as tf.Tensor, io.expected_adapted!, atol, rtol), 'adapted').toBe(0);
    expect(
      await maxCloseViolation(
        peftModel.disableAdapter(() => peftModel.model.predict(inputs) as tf.Tensor),
        io.expected_disabled!,
        atol,
        rtol,
      ),
      'disabled',
    ).toBe(0);
    const prompt = tf.cast(io.input_ids!, 'int32');
    const ids = await generate(peftModel.model, prompt, { maxNewTokens: json.generation.max_new_tokens, doSample: false, padTokenId: 0, eosTokenId: json.generation.eos_token_id });
    expect(ids).toEqual(await io[json.generation.adapted.tensor]!.array());
    const rows = readFileSync(peftFixturePath('llama-vera', 'data.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).input_ids as number[]);
    const loss = await datasetLoss(peftModel.model, rows);
    expect(Math.abs(loss - json.expected_loss.adapted)).toBeLessThanOrEqual(atol + rtol * json.expected_loss.adapted);

    const saved = peftModel.getStateDict();
    const file = await loadFixtureTensors('llama-vera', 'adapter', 'adapter_model.safetensors');
    expect(Object.keys(saved).sort()).toEqual(Object.keys(file).sort());
    for (const key of Object.keys(file)) await assertClose(saved[key]!, file[key]!, { atol: 0, rtol: 0, message: key });

    const merged = await peftModel.mergeAndUnload();
    expect(await maxCloseViolation(merged.predict(inputs) as tf.Tensor, io.expected_merged!, atol, rtol), 'merged').toBe(0);
    const mergedFile = await loadFixtureTensors('llama-vera', 'merged', 'model.safetensors');
    for (const key of json.merged.changed_vs_base as string[]) {
      const path = key.replace(/\.weight$/, '');
      const kernel = getLayerByPath(merged, path)!.getWeights()[0]!;
      await assertClose(tf.transpose(kernel), mergedFile[key]!, { atol: 1e-6, rtol: 1e-6, message: key });
    }
    tf.dispose([...inputs, prompt, ...Object.values(io), ...Object.values(saved), ...Object.values(file), ...Object.values(mergedFile)]);
  });

  it('without saved projections, regenerates them from projection_prng_key: the same outputs', async () => {
    const io = await loadFixtureTensors('llama-vera', 'io.safetensors');
    const inputs = [tf.cast(io.input_ids!, 'int32'), tf.cast(io.attention_mask!, 'int32')];
    const config = { ...JSON.parse(readFileSync(peftFixturePath('llama-vera', 'adapter', 'adapter_config.json'), 'utf8')), save_projection: false };
    const { [VERA_A_KEY]: savedA, [VERA_B_KEY]: savedB, ...lambdas } = await loadFixtureTensors('llama-vera', 'adapter', 'adapter_model.safetensors');
    tf.dispose([savedA!, savedB!]);
    const base = await AutoModelForCausalLM.fromPretrained(peftFixturePath('llama-vera', 'base'));
    const peftModel = new PeftModel(base, config);
    peftModel.loadStateDict(lambdas);
    expect(await maxCloseViolation(peftModel.model.predict(inputs) as tf.Tensor, io.expected_adapted!, 1e-5, 1e-5), 'adapted').toBe(0);
    expect(Object.keys(peftModel.getStateDictShapes())).not.toContain(VERA_A_KEY);
    const layer = getLayerByPath(peftModel.model, 'model.layers.1.self_attn.v_proj') as VeraDense;
    expect(await layer.projectionsOf('default').a.data()).toEqual(await io.expected_vera_A!.data());
    tf.dispose([...inputs, ...Object.values(io)]);
  });

  it('refuses a file without the projections when save_projection is true, changing nothing', async () => {
    const config = JSON.parse(readFileSync(peftFixturePath('llama-vera', 'adapter', 'adapter_config.json'), 'utf8'));
    const { [VERA_A_KEY]: savedA, ...rest } = await loadFixtureTensors('llama-vera', 'adapter', 'adapter_model.safetensors');
    savedA!.dispose();
    const base = await AutoModelForCausalLM.fromPretrained(peftFixturePath('llama-vera', 'base'));
    const peftModel = new PeftModel(base, config);
    const layer = getLayerByPath(peftModel.model, 'model.layers.0.self_attn.q_proj') as VeraDense;
    expect(layer).toBeInstanceOf(VeraDense);
    const before = await layer.adapterParameters('default').get('vera_lambda_b.default')!.variable.read().data();
    expect(() => peftModel.loadStateDict(rest)).toThrow(AdapterFormatError);
    expect(() => peftModel.loadStateDict(rest)).toThrow(/base_model\.vera_A/);
    expect(await layer.adapterParameters('default').get('vera_lambda_b.default')!.variable.read().data()).toEqual(before);
  });
});
