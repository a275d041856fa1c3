/**
 * The four real model shapes of bench/scale: config.json values of the published checkpoints
 * (gpt2, HuggingFaceTB/SmolLM-135M, Qwen/Qwen2-0.5B, TinyLlama/TinyLlama-1.1B-Chat-v1.0), and the
 * tensors transformers saves for them (names, torch layouts), so a random checkpoint of each can
 * be written without building the model first.
 */
export type ShapeName = 'gpt2-124m' | 'smollm-135m' | 'qwen2-0.5b' | 'tinyllama-1.1b';

export interface ModelShape {
  name: ShapeName;
  label: string;
  config: Record<string, unknown>;
  /** LoRA targets for "q_proj, v_proj" (GPT-2 has one fused c_attn projection). */
  targets: string[];
}

const llamaCommon = { hidden_act: 'silu', initializer_range: 0.02, attention_bias: false, bos_token_id: 1, eos_token_id: 2 };

export const SHAPES: readonly ModelShape[] = [
  {
    name: 'gpt2-124m',
    label: 'GPT-2 124M',
    config: {
      model_type: 'gpt2',
      architectures: ['GPT2LMHeadModel'],
      n_layer: 12,
      n_embd: 768,
      n_head: 12,
      n_positions: 1024,
      n_ctx: 1024,
      vocab_size: 50257,
      activation_function: 'gelu_new',
      layer_norm_epsilon: 1e-5,
      initializer_range: 0.02,
      bos_token_id: 50256,
      eos_token_id: 50256,
    },
    targets: ['c_attn'],
  },
  {
    name: 'smollm-135m',
    label: 'SmolLM-135M (LLaMA)',
    config: {
      ...llamaCommon,
      model_type: 'llama',
      architectures: ['LlamaForCausalLM'],
      hidden_size: 576,
      intermediate_size: 1536,
      num_hidden_layers: 30,
      num_attention_heads: 9,
      num_key_value_heads: 3,
      vocab_size: 49152,
      max_position_embeddings: 2048,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      tie_word_embeddings: true,
      bos_token_id: 0,
      eos_token_id: 0,
    },
    targets: ['q_proj', 'v_proj'],
  },
  {
    name: 'qwen2-0.5b',
    label: 'Qwen2-0.5B',
    config: {
      ...llamaCommon,
      model_type: 'qwen2',
      architectures: ['Qwen2ForCausalLM'],
      hidden_size: 896,
      intermediate_size: 4864,
      num_hidden_layers: 24,
      num_attention_heads: 14,
      num_key_value_heads: 2,
      vocab_size: 151936,
      max_position_embeddings: 131072,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000,
      tie_word_embeddings: true,
      use_sliding_window: false,
      sliding_window: 131072,
      max_window_layers: 24,
      bos_token_id: 151643,
      eos_token_id: 151643,
    },
    targets: ['q_proj', 'v_proj'],
  },
  {
    name: 'tinyllama-1.1b',
    label: 'TinyLlama-1.1B',
    config: {
      ...llamaCommon,
      model_type: 'llama',
      architectures: ['LlamaForCausalLM'],
      hidden_size: 2048,
      intermediate_size: 5632,
      num_hidden_layers: 22,
      num_attention_heads: 32,
      num_key_value_heads: 4,
      vocab_size: 32000,
      max_position_embeddings: 2048,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      tie_word_embeddings: false,
    },
    targets: ['q_proj', 'v_proj'],
  },
];

export interface TensorSpec {
  name: string;
  shape: number[];
  fill: 'normal' | 'ones' | 'zeros';
}

/** The tensors of `model.safetensors` for a shape, in transformers' names and layouts. */
export function checkpointTensors(shape: ModelShape): TensorSpec[] {
  const c = shape.config as Record<string, number & boolean>;
  const specs: TensorSpec[] = [];
  const add = (name: string, dims: number[], fill: TensorSpec['fill'] = 'normal') => specs.push({ name, shape: dims, fill });
  if (c.model_type === ('gpt2' as never)) {
    const e = c.n_embd;
    add('transformer.wte.weight', [c.vocab_size, e]);
    add('transformer.wpe.weight', [c.n_positions, e]);
    for (let i = 0; i < c.n_layer; i++) {
      const p = `transformer.h.${i}`;
      add(`${p}.ln_1.weight`, [e], 'ones');
      add(`${p}.ln_1.bias`, [e], 'zeros');
      add(`${p}.attn.c_attn.weight`, [e, 3 * e]);
      add(`${p}.attn.c_attn.bias`, [3 * e], 'zeros');
      add(`${p}.attn.c_proj.weight`, [e, e]);
      add(`${p}.attn.c_proj.bias`, [e], 'zeros');
      add(`${p}.ln_2.weight`, [e], 'ones');
      add(`${p}.ln_2.bias`, [e], 'zeros');
      add(`${p}.mlp.c_fc.weight`, [e, 4 * e]);
      add(`${p}.mlp.c_fc.bias`, [4 * e], 'zeros');
      add(`${p}.mlp.c_proj.weight`, [4 * e, e]);
      add(`${p}.mlp.c_proj.bias`, [e], 'zeros');
    }
    add('transformer.ln_f.weight', [e], 'ones');
    add('transformer.ln_f.bias', [e], 'zeros');
    return specs;
  }
  const h = c.hidden_size;
  const headDim = h / c.num_attention_heads;
  const kv = c.num_key_value_heads * headDim;
  const qkvBias = c.model_type === ('qwen2' as never);
  add('model.embed_tokens.weight', [c.vocab_size, h]);
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `model.layers.${i}`;
    add(`${p}.input_layernorm.weight`, [h], 'ones');
    add(`${p}.self_attn.q_proj.weight`, [h, h]);
    add(`${p}.self_attn.k_proj.weight`, [kv, h]);
    add(`${p}.self_attn.v_proj.weight`, [kv, h]);
    if (qkvBias) {
      add(`${p}.self_attn.q_proj.bias`, [h], 'zeros');
      add(`${p}.self_attn.k_proj.bias`, [kv], 'zeros');
      add(`${p}.self_attn.v_proj.bias`, [kv], 'zeros');
    }
    add(`${p}.self_attn.o_proj.weight`, [h, h]);
    add(`${p}.post_attention_layernorm.weight`, [h], 'ones');
    add(`${p}.mlp.gate_proj.weight`, [c.intermediate_size, h]);
    add(`${p}.mlp.up_proj.weight`, [c.intermediate_size, h]);
    add(`${p}.mlp.down_proj.weight`, [h, c.intermediate_size]);
  }
  add('model.norm.weight', [h], 'ones');
  if (!c.tie_word_embeddings) add('lm_head.weight', [c.vocab_size, h]);
  return specs;
}

export function parameterCount(shape: ModelShape): number {
  return checkpointTensors(shape).reduce((sum, spec) => sum + spec.shape.reduce((a, b) => a * b, 1), 0);
}

/**
 * The arithmetic of one LoRA training step, counted as "model FLOPs" (no recomputation): every
 * product of the forward pass (2 FLOPs per multiply-add) and of the input gradients (as many
 * again; frozen weights get no weight gradient), the attention scores and their weighted sum
 * (forward, and twice that backward), and LoRA's r=16 factors on the targets (forward, input and
 * weight gradients). Lets shapes be compared per FLOP, whatever their mix of layers.
 */
export function stepFlops(shape: ModelShape, batch: number, seq: number, rank = 16): number {
  const tokens = batch * seq;
  const c = shape.config as Record<string, number & boolean>;
  const weightMatrices = checkpointTensors(shape).filter((spec) => spec.shape.length === 2 && !/wte|wpe|embed_tokens/.test(spec.name));
  // The head: a tied one multiplies by the embedding matrix.
  const headParameters = c.vocab_size * (c.hidden_size ?? c.n_embd);
  const productParameters =
    weightMatrices.reduce((sum, spec) => sum + spec.shape[0]! * spec.shape[1]!, 0) + (weightMatrices.some((spec) => spec.name === 'lm_head.weight') ? 0 : headParameters);
  const hidden = c.hidden_size ?? c.n_embd;
  const layers = c.num_hidden_layers ?? c.n_layer;
  const attention = 12 * batch * seq * seq * hidden * layers;
  let loraShapes = 0;
  for (const spec of weightMatrices) {
    if (!shape.targets.some((target) => spec.name.includes(`.${target}.`))) continue;
    loraShapes += spec.shape[0]! + spec.shape[1]!;
  }
  return 4 * tokens * productParameters + attention + 6 * tokens * rank * loraShapes;
}
