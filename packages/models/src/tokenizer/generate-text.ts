import type { LayersModel } from '@tensorflow/tfjs-layers';
import { isEncoderDecoder } from '../architectures/inputs';
import { generate, type GenerateOptions } from '../generation/generate';
import type { PretrainedTokenizer } from './pretrained-tokenizer';

/**
 * Text in, text out: encodes the prompts (left-padded, as decoder-only generation needs),
 * generates, and decodes only the new tokens (special tokens skipped). For an encoder-decoder
 * the prompts are the encoder's input, and the decoder's ids after its start token are decoded.
 */
export async function generateText(
  model: LayersModel,
  tokenizer: PretrainedTokenizer,
  prompts: string | readonly string[],
  options: Omit<GenerateOptions, 'attentionMask'> & { addSpecialTokens?: boolean } = {},
): Promise<string[]> {
  const texts = typeof prompts === 'string' ? [prompts] : [...prompts];
  const { addSpecialTokens, ...generateOptions } = options;
  const batch = tokenizer.encodeBatch(texts, { paddingSide: 'left', addSpecialTokens });
  const eos = generateOptions.eosTokenId !== undefined ? generateOptions.eosTokenId : tokenizer.eosTokenId;
  const sequences = await generate(model, batch.inputIds, {
    ...generateOptions,
    attentionMask: batch.attentionMask,
    ...(eos !== undefined ? { eosTokenId: eos } : {}),
    padTokenId: generateOptions.padTokenId ?? tokenizer.padTokenId ?? tokenizer.eosTokenId,
  });
  const promptLength = isEncoderDecoder(model) ? 1 : batch.inputIds[0]!.length;
  return sequences.map((row) => tokenizer.decode(row.slice(promptLength), { skipSpecialTokens: true }));
}
