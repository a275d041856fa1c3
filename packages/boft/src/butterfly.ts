import { InvalidConfigError } from '@peftjs/core';

function range(start: number, end: number, step = 1): number[] {
  const result: number[] = [];
  for (let value = start; value < end; value += step) result.push(value);
  return result;
}

/**
 * PEFT 0.11.1's block_butterfly_perm: the row order of a butterfly permutation of size n that
 * leaves b blocks, for base blocks of r rows (`factorMinusOne` 0: the identity).
 */
export function blockButterflyPermutation(n: number, b: number, r: number, factorMinusOne: number): number[] {
  if (factorMinusOne === 0) return range(0, n);
  if (b * r * 2 > n) throw new InvalidConfigError(`Invalid number of blocks! (${b} blocks of ${2 * r} rows do not fit ${n} features)`, { field: 'boft_n_butterfly_factor' });
  const blockSize = Math.trunc(n / b);
  const step = blockSize / r;
  const initial = range(0, blockSize);
  const sorted = new Array<number>(blockSize).fill(0);
  [...range(0, step, 2), ...range(1, step, 2)].forEach((position, index) => {
    for (let offset = 0; offset < r; offset++) {
      const to = index * r + offset;
      const from = position * r + offset;
      if (to < blockSize && from < blockSize) sorted[to] = initial[from]!;
    }
  });
  const indices = range(0, n);
  for (let start = 0; start < n; start += blockSize) {
    const block = indices.slice(start, start + blockSize);
    block.forEach((_, offset) => {
      indices[start + offset] = block[sorted[offset]!]!;
    });
  }
  return indices;
}

/** The block layout of one BOFT adapter on a layer with `features` input features (after the checks PEFT's update_layer makes). */
export interface BoftBlocks {
  blockSize: number;
  blockNum: number;
  /** The butterfly factor N (paper notation: 1 = one block-diagonal factor). */
  factor: number;
  /** One row order per factor (`boft_P[i]` as indices). */
  permutations: number[][];
}

/** PEFT 0.11.1's BOFT update_layer checks and block layout, with the messages it raises. */
export function boftBlocks(features: number, options: { blockSize: number; blockNum: number; factor: number }, layerName: string): BoftBlocks {
  const extra = options.factor - 1;
  if (extra < 0)
    throw new InvalidConfigError(`You can only specify boft_n_butterfly_factor ${options.factor} to be a positive integer number.`, { field: 'boft_n_butterfly_factor' });
  let { blockSize, blockNum } = options;
  const fail = (message: string, field: string): never => {
    throw new InvalidConfigError(`${message} (layer "${layerName}")`, { field });
  };
  if (blockSize === 0 && blockNum !== 0) {
    if (features % blockNum !== 0) fail(`in_features (${features}) must be divisible by boft_block_num (${blockNum})!`, 'boft_block_num');
    if (extra !== 0) {
      if (extra > Math.trunc(Math.log2(blockNum)))
        fail(`Invalid combination of boft_n_butterfly_factor (${extra + 1}) and boft_block_num (${blockNum})!`, 'boft_n_butterfly_factor');
      if (blockNum % 2 ** extra !== 0)
        fail(`boft_block_num (${blockNum}) must be a multiple of 2 raised to the power of boft_n_butterfly_factor (${extra + 1})!`, 'boft_block_num');
    }
    blockSize = Math.trunc(features / blockNum);
  } else if (blockSize !== 0 && blockNum === 0) {
    if (features % blockSize !== 0) fail(`in_features (${features}) must be divisible by boft_block_size (${blockSize})!`, 'boft_block_size');
    if (extra !== 0 && (features < blockSize * 2 ** extra || features % (blockSize * 2 ** extra) !== 0)) {
      fail(`Invalid combination of in_features (${features}), boft_n_butterfly_factor (${extra + 1}) and boft_block_size (${blockSize})!`, 'boft_n_butterfly_factor');
    }
    blockNum = Math.trunc(features / blockSize);
  } else {
    fail(`You can only specify either boft_block_size (${blockSize}) or boft_block_num (${blockNum}), but not both simultaneously or setting both to be 0`, 'boft_block_size');
  }
  if (extra !== 0) {
    if (blockNum % 2 !== 0) fail(`boft_block_num (${blockNum}) must be an even number!`, 'boft_block_num');
    if (blockSize % 2 !== 0) fail(`boft_block_size (${blockSize}) must be an even number!`, 'boft_block_size');
  }
  const permutations = range(0, extra + 1).map((index) => blockButterflyPermutation(features, Math.trunc(blockNum / 2 ** index), Math.trunc(blockSize / 2), extra));
  return { blockSize, blockNum, factor: extra + 1, permutations };
}
