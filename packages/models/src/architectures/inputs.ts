import * as tfl from '@tensorflow/tfjs-layers';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';

/** Model input names, as transformers' forward() calls them. */
export const INPUT_IDS = 'input_ids';
export const ATTENTION_MASK = 'attention_mask';
export const TOKEN_TYPE_IDS = 'token_type_ids';
export const POSITION_IDS = 'position_ids';
export const DECODER_INPUT_IDS = 'decoder_input_ids';
export const DECODER_ATTENTION_MASK = 'decoder_attention_mask';

/** `input_ids` `[batch, seq]` int32 and `attention_mask` `[batch, keys]` float32 (1 = attend, 0 = padding). */
export function causalInputs(): { inputIds: SymbolicTensor; attentionMask: SymbolicTensor } {
  return {
    inputIds: tfl.input({ shape: [null], dtype: 'int32', name: INPUT_IDS }),
    attentionMask: tfl.input({ shape: [null], dtype: 'float32', name: ATTENTION_MASK }),
  };
}

/** An encoder-decoder's inputs: the encoder's `input_ids` and `attention_mask`, and `decoder_input_ids` `[batch, dec_len]` int32. */
export function seq2seqInputs(): { inputIds: SymbolicTensor; attentionMask: SymbolicTensor; decoderInputIds: SymbolicTensor } {
  return {
    ...causalInputs(),
    decoderInputIds: tfl.input({ shape: [null], dtype: 'int32', name: DECODER_INPUT_IDS }),
  };
}

/** Whether a model takes `decoder_input_ids` (an encoder-decoder built here, or a PEFT-rewritten copy of one). */
export function isEncoderDecoder(model: { inputs: readonly SymbolicTensor[] }): boolean {
  return model.inputs.some((input) => inputName(input) === DECODER_INPUT_IDS);
}

/** An input's name without the `_1` suffix tfjs may add to keep names unique. */
export function inputName(input: SymbolicTensor): string {
  return input.name.replace(/_\d+$/, '');
}
