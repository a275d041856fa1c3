import * as tfl from '@tensorflow/tfjs-layers';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';

/** Model input names, as transformers' forward() calls them. */
export const INPUT_IDS = 'input_ids';
export const ATTENTION_MASK = 'attention_mask';
export const TOKEN_TYPE_IDS = 'token_type_ids';
export const POSITION_IDS = 'position_ids';

/** `input_ids` `[batch, seq]` int32 and `attention_mask` `[batch, keys]` float32 (1 = attend, 0 = padding). */
export function causalInputs(): { inputIds: SymbolicTensor; attentionMask: SymbolicTensor } {
  return {
    inputIds: tfl.input({ shape: [null], dtype: 'int32', name: INPUT_IDS }),
    attentionMask: tfl.input({ shape: [null], dtype: 'float32', name: ATTENTION_MASK }),
  };
}
