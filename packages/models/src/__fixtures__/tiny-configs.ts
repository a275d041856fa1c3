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
