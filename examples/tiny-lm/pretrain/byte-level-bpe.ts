/**
 * A byte-level BPE trainer (GPT-2's scheme) that writes a Hugging Face `tokenizer.json`. The
 * result is loaded and checked with @huggingface/tokenizers (the maintained JS port of the
 * tokenizers library) by pretrain.ts; Python's `tokenizers`/`transformers` read the same file.
 */

/** GPT-2's bytes_to_unicode: every byte gets a printable character. */
export function bytesToUnicode(): Map<number, string> {
  const printable: number[] = [];
  for (let byte = 33; byte <= 126; byte++) printable.push(byte);
  for (let byte = 161; byte <= 172; byte++) printable.push(byte);
  for (let byte = 174; byte <= 255; byte++) printable.push(byte);
  const map = new Map<number, string>();
  let extra = 0;
  for (let byte = 0; byte < 256; byte++) {
    if (printable.includes(byte)) map.set(byte, String.fromCodePoint(byte));
    else map.set(byte, String.fromCodePoint(256 + extra++));
  }
  return map;
}

/** GPT-2's pre-tokenization pattern (what the ByteLevel pre-tokenizer uses with use_regex). */
export const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

export interface TrainBpeOptions {
  /** Total vocabulary size, special tokens included. */
  vocabSize: number;
  specialTokens: readonly string[];
}

export interface TrainedBpe {
  vocab: Record<string, number>;
  merges: string[];
  specialTokens: Record<string, number>;
}

export function trainByteLevelBpe(texts: Iterable<string>, options: TrainBpeOptions): TrainedBpe {
  const byteChar = bytesToUnicode();
  const encoder = new TextEncoder();
  const wordCounts = new Map<string, number>();
  for (const text of texts) {
    for (const match of text.matchAll(GPT2_PATTERN)) {
      const mapped = Array.from(encoder.encode(match[0]), (byte) => byteChar.get(byte)!).join('');
      wordCounts.set(mapped, (wordCounts.get(mapped) ?? 0) + 1);
    }
  }
  const words = [...wordCounts].map(([word, count]) => ({ symbols: Array.from(word), count }));
  const vocab: Record<string, number> = {};
  for (let byte = 0; byte < 256; byte++) vocab[byteChar.get(byte)!] = byte;
  const merges: string[] = [];
  const target = options.vocabSize - options.specialTokens.length;
  while (Object.keys(vocab).length < target) {
    const pairs = new Map<string, number>();
    for (const { symbols, count } of words) {
      for (let index = 0; index + 1 < symbols.length; index++) {
        const key = `${symbols[index]} ${symbols[index + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + count);
      }
    }
    let best: string | undefined;
    let bestCount = 1;
    // Highest count wins; ties go to the lexically smallest pair, so training is deterministic.
    for (const [pair, count] of pairs) {
      if (count > bestCount || (count === bestCount && best !== undefined && pair < best)) {
        best = pair;
        bestCount = count;
      }
    }
    if (best === undefined) break;
    const [left, right] = best.split(' ') as [string, string];
    const merged = left + right;
    merges.push(best);
    vocab[merged] = Object.keys(vocab).length;
    for (const word of words) {
      const { symbols } = word;
      if (symbols.length < 2) continue;
      const next: string[] = [];
      for (let index = 0; index < symbols.length; index++) {
        if (index + 1 < symbols.length && symbols[index] === left && symbols[index + 1] === right) {
          next.push(merged);
          index++;
        } else next.push(symbols[index]!);
      }
      word.symbols = next;
    }
  }
  const specialTokens: Record<string, number> = {};
  for (const token of options.specialTokens) {
    specialTokens[token] = Object.keys(vocab).length;
    vocab[token] = specialTokens[token]!;
  }
  return { vocab, merges, specialTokens };
}

/** The tokenizer.json the Hugging Face tokenizers library writes for a GPT-2-style byte-level BPE. */
export function tokenizerJson(bpe: TrainedBpe): Record<string, unknown> {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: Object.entries(bpe.specialTokens).map(([content, id]) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: true,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: bpe.vocab,
      merges: bpe.merges,
    },
  };
}
