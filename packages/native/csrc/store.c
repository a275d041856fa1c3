/* Frozen-weight storage: conversion, quantisation (bitsandbytes' formats) and row dequantisation. */
#include "store.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PEFTJS_STORE_X86 1
#endif

/* bitsandbytes' NF4 (QLoRA's normal-float) code book, index = the 4-bit code. */
const float peftjs_nf4_code[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f, -0.28444138169288635f, -0.18477343022823334f,
    -0.09105003625154495f, 0.0f, 0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};

/* bitsandbytes' FP4 (1 sign, 2 exponent, 1 mantissa bit; bias 3), normalised to a largest value of 1. */
const float peftjs_fp4_code[16] = {
    0.0f, 0.0052083333f, 0.6666667f, 1.0f, 0.33333333f, 0.5f, 0.16666667f, 0.25f,
    -0.0f, -0.0052083333f, -0.6666667f, -1.0f, -0.33333333f, -0.5f, -0.16666667f, -0.25f};

/* ---- float16 / bfloat16 conversions (round to nearest even, as torch's .to() does) ---- */

static inline float bits_float(uint32_t bits) {
  float value;
  memcpy(&value, &bits, 4);
  return value;
}

static inline uint32_t float_bits(float value) {
  uint32_t bits;
  memcpy(&bits, &value, 4);
  return bits;
}

static inline float bf16_float(uint16_t half) { return bits_float((uint32_t)half << 16); }

static inline uint16_t float_bf16(float value) {
  uint32_t bits = float_bits(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40); /* NaN stays NaN */
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return (uint16_t)(bits >> 16);
}

static inline float f16_float(uint16_t half) {
  uint32_t sign = (uint32_t)(half & 0x8000u) << 16, exponent = (half >> 10) & 0x1fu, mantissa = half & 0x3ffu;
  if (exponent == 0) {
    if (mantissa == 0) return bits_float(sign);
    /* subnormal: mantissa · 2^-24 */
    float value = (float)mantissa * 5.9604644775390625e-8f;
    return sign ? -value : value;
  }
  if (exponent == 31) return bits_float(sign | 0x7f800000u | (mantissa << 13));
  return bits_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

static inline uint16_t float_f16(float value) {
  uint32_t bits = float_bits(value);
  uint32_t sign = (bits >> 16) & 0x8000u;
  uint32_t rest = bits & 0x7fffffffu;
  if (rest >= 0x7f800000u) return (uint16_t)(sign | 0x7c00u | (rest > 0x7f800000u ? 0x200u : 0));
  if (rest >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds past 65504: infinity */
  if (rest < 0x38800000u) {
    /* subnormal or zero in half: round rest·2^24 to an integer, half to even */
    float magnitude = bits_float(rest);
    float scaled = magnitude * 16777216.0f;
    return (uint16_t)(sign | (uint32_t)nearbyintf(scaled));
  }
  uint32_t mantissa = rest + 0xc8000fffu + ((rest >> 13) & 1u); /* rebias exponent (−112·2^23) and round */
  return (uint16_t)(sign | (mantissa >> 13));
}

/* ---- the dynamic 8-bit map bitsandbytes double-quantises absmax with ---- */

static float dynamic_code[256];
static int dynamic_ready = 0;

static int compare_floats(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/*
 * create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): for i in 0..6, the midpoints of
 * torch.linspace(0.1, 1, 2^i + 1) (float32) times 10^(i-6), with both signs, then 0 and 1, sorted.
 */
const float *peftjs_dynamic_code(void) {
  if (dynamic_ready) return dynamic_code;
  int count = 0;
  for (int i = 0; i < 7; i++) {
    int steps = (1 << i) + 1;
    float boundaries[65];
    float start = 0.1f, end = 1.0f, step = (end - start) / (float)(steps - 1);
    int halfway = steps / 2;
    for (int index = 0; index < steps; index++)
      boundaries[index] = index < halfway ? start + step * (float)index : end - step * (float)(steps - index - 1);
    float scale = (float)pow(10.0, (double)(i - 6));
    for (int index = 0; index + 1 < steps; index++) {
      float mean = (boundaries[index] + boundaries[index + 1]) / 2.0f;
      dynamic_code[count++] = scale * mean;
      dynamic_code[count++] = -(scale * mean);
    }
  }
  dynamic_code[count++] = 0.0f;
  dynamic_code[count++] = 1.0f;
  qsort(dynamic_code, 256, sizeof(float), compare_floats);
  dynamic_ready = 1;
  return dynamic_code;
}

/* The index of the nearest value in a sorted code (ties to the lower one). */
static int nearest_code(const float *code, int size, float x) {
  int low = 0, high = size - 1;
  if (x <= code[0]) return 0;
  if (x >= code[high]) return high;
  while (high - low > 1) {
    int middle = (low + high) / 2;
    if (code[middle] <= x) low = middle;
    else high = middle;
  }
  return (x - code[low] <= code[high] - x) ? low : high;
}

/*
 * bitsandbytes' 4-bit quantisers: the nearest code, found as the number of code midpoints
 * (float32, (a + b)·0.5) that x exceeds, so a value on a midpoint takes the lower code
 * (bitsandbytes' decision tree compares against the same midpoints). Branch-free.
 */
static float nf4_thresholds[15];
static int nf4_ready = 0;

static inline int quantize_nf4(float x) {
  int code = 0;
  for (int i = 0; i < 15; i++) code += x > nf4_thresholds[i];
  return code;
}

static void nf4_prepare(void) {
  if (nf4_ready) return;
  for (int i = 0; i < 15; i++) nf4_thresholds[i] = (peftjs_nf4_code[i] + peftjs_nf4_code[i + 1]) * 0.5f;
  nf4_ready = 1;
}

static int quantize_fp4(float x) {
  int sign = x < 0 ? 8 : 0;
  float magnitude = fabsf(x);
  /* magnitudes by code: 0→0, 1→0.0052, 6→0.1667, 7→0.25, 4→0.3333, 5→0.5, 2→0.6667, 3→1 */
  if (magnitude > 0.29166667f) {
    if (magnitude > 0.583333f) return (magnitude > 0.8333333f ? 3 : 2) + sign;
    return (magnitude > 0.4166667f ? 5 : 4) + sign;
  }
  if (magnitude > 0.0859375f) return (magnitude > 0.20833333f ? 7 : 6) + sign;
  return (magnitude > 0.00260417f ? 1 : 0) + sign;
}

/* ---- reading sources ---- */

static inline float source_value(const void *source, int type, size_t index) {
  const uint8_t *bytes = (const uint8_t *)source;
  if (type == PEFTJS_SOURCE_F32) {
    float value;
    memcpy(&value, bytes + index * 4, 4);
    return value;
  }
  uint16_t half;
  memcpy(&half, bytes + index * 2, 2);
  return type == PEFTJS_SOURCE_BF16 ? bf16_float(half) : f16_float(half);
}

/* Row `row` of the weight as float32, from a source laid out [rows, cols] (or [cols, rows] transposed). */
static void source_row(const void *source, int type, long rows, long cols, int transpose, long row, float *out) {
  if (!transpose) {
    if (type == PEFTJS_SOURCE_F32) {
      memcpy(out, (const uint8_t *)source + (size_t)row * cols * 4, (size_t)cols * 4);
      return;
    }
    for (long col = 0; col < cols; col++) out[col] = source_value(source, type, (size_t)row * cols + col);
    return;
  }
  for (long col = 0; col < cols; col++) out[col] = source_value(source, type, (size_t)col * rows + row);
}

/* Value `index` of the flattened [rows, cols] weight, from a source laid out [rows, cols] (or [cols, rows] transposed). */
static inline float source_flat(const void *source, int type, long rows, long cols, int transpose, size_t index) {
  if (!transpose) return source_value(source, type, index);
  size_t row = index / (size_t)cols, col = index % (size_t)cols;
  return source_value(source, type, col * (size_t)rows + row);
}

static void *allocate(size_t bytes) {
  void *pointer = NULL;
  if (posix_memalign(&pointer, 64, bytes > 0 ? bytes : 64) != 0) return NULL;
  return pointer;
}

void peftjs_weight_release(peftjs_weight *w) {
  free(w->owned);
  free(w->scales);
  free(w->nested_codes);
  free(w->nested_absmax);
  w->owned = NULL;
  w->scales = NULL;
  w->nested_codes = NULL;
  w->nested_absmax = NULL;
  w->data = NULL;
  w->bytes = 0;
}

int peftjs_weight_build(peftjs_weight *w, const void *source, int source_type, long rows, long cols, int transpose, int storage, int nested) {
  peftjs_weight result;
  memset(&result, 0, sizeof result);
  result.storage = storage;
  result.rows = rows;
  result.cols = cols;
  result.mapping = -1;
  size_t count = (size_t)rows * (size_t)cols;
  float *row = (float *)allocate((size_t)(cols > 0 ? cols : 1) * sizeof(float));
  if (row == NULL) return -1;
  size_t data_bytes = storage == PEFTJS_STORE_F32 ? count * 4
                      : storage == PEFTJS_STORE_BF16 || storage == PEFTJS_STORE_F16 ? count * 2
                      : storage == PEFTJS_STORE_INT8 ? count
                      : (count + 1) / 2;
  result.owned = allocate(data_bytes);
  if (result.owned == NULL) goto fail;
  result.data = result.owned;
  result.bytes = data_bytes;

  if (storage == PEFTJS_STORE_F32 || storage == PEFTJS_STORE_BF16 || storage == PEFTJS_STORE_F16) {
    for (long r = 0; r < rows; r++) {
      source_row(source, source_type, rows, cols, transpose, r, row);
      if (storage == PEFTJS_STORE_F32) {
        memcpy((float *)result.owned + (size_t)r * cols, row, (size_t)cols * 4);
      } else {
        uint16_t *out = (uint16_t *)result.owned + (size_t)r * cols;
        if (storage == PEFTJS_STORE_BF16)
          for (long c = 0; c < cols; c++) out[c] = float_bf16(row[c]);
        else
          for (long c = 0; c < cols; c++) out[c] = float_f16(row[c]);
      }
    }
  } else if (storage == PEFTJS_STORE_INT8) {
    result.scales = (float *)allocate((size_t)(rows > 0 ? rows : 1) * sizeof(float));
    if (result.scales == NULL) goto fail;
    result.bytes += (size_t)rows * sizeof(float);
    for (long r = 0; r < rows; r++) {
      source_row(source, source_type, rows, cols, transpose, r, row);
      float absmax = 0.0f;
      for (long c = 0; c < cols; c++) absmax = fmaxf(absmax, fabsf(row[c]));
      int8_t *out = (int8_t *)result.owned + (size_t)r * cols;
      float inverse = absmax > 0.0f ? 127.0f / absmax : 0.0f;
      for (long c = 0; c < cols; c++) {
        float q = nearbyintf(row[c] * inverse);
        out[c] = (int8_t)(q > 127.0f ? 127 : q < -127.0f ? -127 : q);
      }
      result.scales[r] = absmax / 127.0f;
    }
  } else if (storage == PEFTJS_STORE_NF4 || storage == PEFTJS_STORE_FP4) {
    size_t blocks = (count + PEFTJS_BLOCK - 1) / PEFTJS_BLOCK;
    float *absmax = (float *)allocate(blocks * sizeof(float));
    if (absmax == NULL) goto fail;
    nf4_prepare();
    uint8_t *codes = (uint8_t *)result.owned;
    memset(codes, 0, data_bytes);
    /* blocks run over the flattened [rows, cols] matrix, so they may span rows; each is read from
       the source on its own (no float32 copy of the whole weight: for a 150k-token embedding that
       copy alone was half a gigabyte at load) */
    for (size_t block = 0; block < blocks; block++) {
      size_t begin = block * PEFTJS_BLOCK, end = begin + PEFTJS_BLOCK < count ? begin + PEFTJS_BLOCK : count;
      size_t length = end - begin;
      float values[PEFTJS_BLOCK];
      if (!transpose && source_type == PEFTJS_SOURCE_F32) memcpy(values, (const uint8_t *)source + begin * 4, length * 4);
      else for (size_t j = 0; j < length; j++) values[j] = source_flat(source, source_type, rows, cols, transpose, begin + j);
      float maximum = 0.0f;
      for (size_t j = 0; j < length; j++) maximum = fmaxf(maximum, fabsf(values[j]));
      absmax[block] = maximum;
      float inverse = maximum > 0.0f ? 1.0f / maximum : 0.0f;
      uint8_t block_codes[PEFTJS_BLOCK];
      /* one code per value first (a loop the compiler vectorises), then two per byte */
      if (storage == PEFTJS_STORE_NF4)
        for (size_t j = 0; j < length; j++) block_codes[j] = (uint8_t)quantize_nf4(values[j] * inverse);
      else
        for (size_t j = 0; j < length; j++) block_codes[j] = (uint8_t)quantize_fp4(values[j] * inverse);
      for (size_t j = 0; j < length; j++) codes[(begin + j) / 2] |= (uint8_t)((begin + j) % 2 == 0 ? block_codes[j] << 4 : block_codes[j]);
    }
    if (!nested) {
      result.scales = absmax;
      result.bytes += blocks * sizeof(float);
    } else {
      /* double quantisation: absmax − mean, in 8-bit dynamic codes per block of 256 */
      const float *code = peftjs_dynamic_code();
      double sum = 0.0;
      for (size_t block = 0; block < blocks; block++) sum += absmax[block];
      float offset = (float)(sum / (double)(blocks > 0 ? blocks : 1));
      size_t groups = (blocks + PEFTJS_BLOCK_NESTED - 1) / PEFTJS_BLOCK_NESTED;
      result.nested_codes = (uint8_t *)allocate(blocks > 0 ? blocks : 1);
      result.nested_absmax = (float *)allocate((groups > 0 ? groups : 1) * sizeof(float));
      if (result.nested_codes == NULL || result.nested_absmax == NULL) {
        free(absmax);
        goto fail;
      }
      for (size_t group = 0; group < groups; group++) {
        size_t begin = group * PEFTJS_BLOCK_NESTED, end = begin + PEFTJS_BLOCK_NESTED < blocks ? begin + PEFTJS_BLOCK_NESTED : blocks;
        float maximum = 0.0f;
        for (size_t block = begin; block < end; block++) maximum = fmaxf(maximum, fabsf(absmax[block] - offset));
        result.nested_absmax[group] = maximum;
        float inverse = maximum > 0.0f ? 1.0f / maximum : 0.0f;
        for (size_t block = begin; block < end; block++) result.nested_codes[block] = (uint8_t)nearest_code(code, 256, (absmax[block] - offset) * inverse);
      }
      free(absmax);
      result.nested = 1;
      result.nested_offset = offset;
      result.bytes += blocks + groups * sizeof(float);
    }
  } else {
    goto fail;
  }
  free(row);
  *w = result;
  return 0;
fail:
  free(row);
  peftjs_weight_release(&result);
  return -1;
}

/* A block's absmax (dequantised when nested). */
static inline float block_absmax(const peftjs_weight *w, size_t block) {
  if (!w->nested) return w->scales[block];
  return peftjs_dynamic_code()[w->nested_codes[block]] * w->nested_absmax[block / PEFTJS_BLOCK_NESTED] + w->nested_offset;
}

#ifdef PEFTJS_STORE_X86
__attribute__((target("avx2,f16c"))) static void f16_row_f16c(const uint16_t *in, long count, float *out) {
  long c = 0;
  for (; c + 8 <= count; c += 8) _mm256_storeu_ps(out + c, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(in + c))));
  for (; c < count; c++) out[c] = f16_float(in[c]);
}
static int has_f16c = -1;
#endif

void peftjs_weight_row(const peftjs_weight *w, long row, long col0, long count, float *out) {
  size_t first = (size_t)row * (size_t)w->cols + (size_t)col0;
  switch (w->storage) {
    case PEFTJS_STORE_F32:
      memcpy(out, (const float *)w->data + first, (size_t)count * 4);
      return;
    case PEFTJS_STORE_BF16: {
      const uint16_t *in = (const uint16_t *)w->data + first;
      uint32_t *bits = (uint32_t *)out;
      for (long c = 0; c < count; c++) bits[c] = (uint32_t)in[c] << 16;
      return;
    }
    case PEFTJS_STORE_F16: {
      const uint16_t *in = (const uint16_t *)w->data + first;
#ifdef PEFTJS_STORE_X86
      if (has_f16c < 0) {
        __builtin_cpu_init();
        has_f16c = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
      }
      if (has_f16c) {
        f16_row_f16c(in, count, out);
        return;
      }
#endif
      for (long c = 0; c < count; c++) out[c] = f16_float(in[c]);
      return;
    }
    case PEFTJS_STORE_INT8: {
      const int8_t *in = (const int8_t *)w->data + first;
      float scale = w->scales[row];
      for (long c = 0; c < count; c++) out[c] = (float)in[c] * scale;
      return;
    }
    default: {
      const float *code = w->storage == PEFTJS_STORE_NF4 ? peftjs_nf4_code : peftjs_fp4_code;
      const uint8_t *bytes = (const uint8_t *)w->data;
      size_t index = first, end = first + (size_t)count;
      long c = 0;
      while (index < end) {
        size_t block = index / PEFTJS_BLOCK;
        size_t block_end = (block + 1) * PEFTJS_BLOCK < end ? (block + 1) * PEFTJS_BLOCK : end;
        float absmax = block_absmax(w, block);
        if (index % 2 == 1) {
          out[c++] = code[bytes[index / 2] & 15] * absmax;
          index++;
        }
        for (; index + 1 < block_end; index += 2) {
          uint8_t byte = bytes[index / 2];
          out[c++] = code[byte >> 4] * absmax;
          out[c++] = code[byte & 15] * absmax;
        }
        if (index < block_end) {
          out[c++] = code[bytes[index / 2] >> 4] * absmax;
          index++;
        }
      }
      return;
    }
  }
}
