/** Tiny config.json objects for fast tests (snake_case, as transformers writes them). */
export const TINY_GPT2 = { model_type: 'gpt2', n_layer: 2, n_embd: 16, n_head: 2, vocab_size: 50, n_positions: 16, initializer_range: 0.2 };
export const TINY_LLAMA = {
  model_type: 'llama',
  hidden_size: 16,
  intermediate_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: 64,
  initializer_range: 0.2,
  eos_token_id: 2,
};
export const TINY_BERT = {
  model_type: 'bert',
  hidden_size: 16,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 32,
  vocab_size: 50,
  max_position_embeddings: 16,
  id2label: { 0: 'a', 1: 'b', 2: 'c' },
  initializer_range: 0.2,
};
/** OPT with word_embed_proj_dim != hidden_size (project_in / project_out) and post-LayerNorm blocks, as opt-350m. */
export const TINY_OPT_350M_STYLE = {
  model_type: 'opt',
  hidden_size: 16,
  ffn_dim: 32,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  vocab_size: 50,
  max_position_embeddings: 16,
  word_embed_proj_dim: 8,
  do_layer_norm_before: false,
  init_std: 0.2,
};
/** BLOOM with a head count that is not a power of two (ALiBi's extra slopes). */
export const TINY_BLOOM = { model_type: 'bloom', hidden_size: 24, n_layer: 2, n_head: 6, vocab_size: 50, initializer_range: 0.2 };
/** Original T5: ReLU FFN (`wi`), tied head with the d_model**-0.5 rescale, more layers in the decoder. */
export const TINY_T5 = {
  model_type: 't5',
  d_model: 16,
  d_kv: 4,
  d_ff: 32,
  num_layers: 2,
  num_decoder_layers: 3,
  num_heads: 3,
  vocab_size: 40,
  relative_attention_num_buckets: 8,
  relative_attention_max_distance: 20,
  decoder_start_token_id: 0,
  eos_token_id: 1,
  pad_token_id: 0,
};
