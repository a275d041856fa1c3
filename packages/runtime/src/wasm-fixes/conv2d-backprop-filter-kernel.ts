import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { backend_util, BatchMatMul, Conv2DBackpropFilter, Transpose } from '@tensorflow/tfjs-core';

import { missingKernelFix } from './kernel-override';
import { disposeAll } from './materialise-transposes';
import type { KernelArgs, WasmBackend } from './wasm-backend-internals';
import { runWasmKernel } from './wasm-backend-internals';
import type { WasmFixUnit } from './wasm-fix-unit';
import { WasmFix } from './wasm-fix-names';

/** Largest patch matrix built at once, in floats (16 MiB); bigger problems run in row chunks. */
export const PATCH_CHUNK_ELEMENTS = 1 << 22;

interface Conv2DBackpropFilterAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

/**
 * wasm `Conv2DBackpropFilter` (the filter gradient of `conv2d`), which the wasm backend lacks.
 *
 * dW[kh, kw, ci, co] = Σ over (b, y, x) of input[b, y·sh + kh·dh − top, x·sw + kw·dw − left, ci] · dy[b, y, x, co].
 * Read as a matrix product, dW (as `[kh·kw·ci, co]`) = Pᵀ · dy, where dy is `[b·y·x, co]` and Pᵀ
 * holds one input patch per column. This kernel writes Pᵀ onto the wasm heap (zeros where the
 * window hangs over the padding) and runs the product on XNNPACK through the wasm `BatchMatMul`
 * kernel; large problems are cut into row chunks of at most `PATCH_CHUNK_ELEMENTS`. Every padding
 * tfjs accepts ('same', 'valid', a number, explicit pads), any strides, and both data formats.
 * The kernel has no dilation attribute (tfjs refuses dilated conv2d gradients), so dilation is 1,
 * as in the cpu kernel.
 */
export const conv2DBackpropFilterKernel: KernelFunc = (args) => {
  const backend = args.backend as WasmBackend;
  const { x, dy } = (args as KernelArgs).inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs as unknown as Conv2DBackpropFilterAttrs;
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    backend_util.convertConv2DDataFormat(dataFormat),
  );
  const channelsLast = info.dataFormat === 'channelsLast';
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;

  const out = backend.makeOutput(info.filterShape, 'float32');
  const columns = batchSize * outHeight * outWidth;
  const rows = filterHeight * filterWidth * inChannels;
  if (columns === 0 || rows === 0 || outChannels === 0) {
    (backend.typedArrayFromHeap(out) as Float32Array).fill(0);
    return out;
  }

  const temporaries: TensorInfo[] = [];
  // dy as a [columns, outChannels] matrix: NHWC already is one; NCHW is transposed to NHWC first.
  let dyMatrix: TensorInfo = { ...dy, shape: [columns, outChannels] };
  if (!channelsLast) {
    const nhwc = runWasmKernel(Transpose, backend, { x: dy }, { perm: [0, 2, 3, 1] });
    temporaries.push(nhwc);
    dyMatrix = { ...nhwc, shape: [columns, outChannels] };
  }
  const [batchStride, rowStride, columnStride, channelStride] = channelsLast
    ? [inHeight * inWidth * inChannels, inWidth * inChannels, inChannels, 1]
    : [inChannels * inHeight * inWidth, inWidth, 1, inHeight * inWidth];

  try {
    const rowsPerChunk = Math.max(1, Math.min(rows, Math.floor(PATCH_CHUNK_ELEMENTS / columns)));
    for (let chunkStart = 0; chunkStart < rows; chunkStart += rowsPerChunk) {
      const chunkEnd = Math.min(rows, chunkStart + rowsPerChunk);
      const patches = backend.makeOutput([chunkEnd - chunkStart, columns], 'float32');
      temporaries.push(patches);
      const input = backend.typedArrayFromHeap(x) as Float32Array;
      const patchValues = backend.typedArrayFromHeap(patches) as Float32Array;
      // Rows are ordered (kh, kw, ci), the filter's own layout; fill one (kh, kw) run of channels at a time.
      for (let row = chunkStart; row < chunkEnd; ) {
        const window = Math.floor(row / inChannels);
        const channelStart = row % inChannels;
        const channelEnd = Math.min(inChannels, channelStart + (chunkEnd - row));
        const kh = Math.floor(window / filterWidth);
        const kw = window % filterWidth;
        const firstRow = row - chunkStart;
        let column = 0;
        for (let b = 0; b < batchSize; b++) {
          for (let y = 0; y < outHeight; y++) {
            const inY = y * strideHeight + kh * dilationHeight - top;
            const rowInside = inY >= 0 && inY < inHeight;
            for (let xPos = 0; xPos < outWidth; xPos++, column++) {
              const inX = xPos * strideWidth + kw * dilationWidth - left;
              if (rowInside && inX >= 0 && inX < inWidth) {
                const base = b * batchStride + inY * rowStride + inX * columnStride;
                for (let channel = channelStart; channel < channelEnd; channel++) {
                  patchValues[(firstRow + channel - channelStart) * columns + column] = input[base + channel * channelStride];
                }
              } else {
                for (let channel = channelStart; channel < channelEnd; channel++) {
                  patchValues[(firstRow + channel - channelStart) * columns + column] = 0;
                }
              }
            }
          }
        }
        row += channelEnd - channelStart;
      }
      const product = runWasmKernel(BatchMatMul, backend, { a: patches, b: dyMatrix }, { transposeA: false, transposeB: false });
      temporaries.push(product);
      (backend.typedArrayFromHeap(out) as Float32Array).set(backend.typedArrayFromHeap(product) as Float32Array, chunkStart * outChannels);
      disposeAll(backend, temporaries.splice(temporaries.indexOf(patches)));
    }
  } finally {
    disposeAll(backend, temporaries);
  }
  return out;
};

export const conv2DBackpropFilterKernelFix: WasmFixUnit = missingKernelFix(WasmFix.conv2DBackpropFilter, Conv2DBackpropFilter, conv2DBackpropFilterKernel);
