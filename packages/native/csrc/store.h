/*
 * The frozen-weight store: 2-D base weights [rows, cols] held outside the wasm heap (mapped from a
 * safetensors file, or converted copies in native memory), in float32, bfloat16, float16, int8
 * (per-row absmax) or 4-bit NF4 / FP4 (bitsandbytes' block-wise absmax, blocks of 64, optional
 * double quantisation of the absmax). Linear weights are kept as torch's Linear lays them out,
 * [out, in], so a row is an output channel.
 */
#ifndef PEFTJS_STORE_H
#define PEFTJS_STORE_H

#include <stddef.h>
#include <stdint.h>

enum peftjs_storage {
  PEFTJS_STORE_F32 = 0,
  PEFTJS_STORE_BF16 = 1,
  PEFTJS_STORE_F16 = 2,
  PEFTJS_STORE_INT8 = 3,
  PEFTJS_STORE_NF4 = 4,
  PEFTJS_STORE_FP4 = 5
};

/* Source element types (safetensors F32, BF16, F16). */
enum peftjs_source { PEFTJS_SOURCE_F32 = 0, PEFTJS_SOURCE_BF16 = 1, PEFTJS_SOURCE_F16 = 2 };

#define PEFTJS_BLOCK 64         /* 4-bit: values per absmax */
#define PEFTJS_BLOCK_NESTED 256 /* double quantisation: absmax values per second-level absmax */

typedef struct peftjs_weight {
  int storage;   /* enum peftjs_storage */
  long rows, cols;
  const void *data; /* the values: float, uint16 or int8 per value, or two 4-bit codes per byte (high nibble first) */
  float *scales;    /* int8: one absmax per row; 4-bit without nesting: one per block */
  /* 4-bit with double quantisation: 8-bit codes of (absmax - offset), each block of 256 scaled by absmax2 */
  uint8_t *nested_codes;
  float *nested_absmax;
  float nested_offset;
  int nested;
  void *owned;       /* malloc'd data (NULL when mapped) */
  int mapping;       /* the file mapping the data lies in (-1: owned) */
  size_t bytes;      /* bytes held in native memory (data and statistics; 0 for mapped data) */
} peftjs_weight;

/* bitsandbytes' code books. */
extern const float peftjs_nf4_code[16];
extern const float peftjs_fp4_code[16];
/* bitsandbytes' signed dynamic 8-bit map (create_dynamic_map), used to double-quantise absmax. */
const float *peftjs_dynamic_code(void);

/* Dequantises row `row`, columns [col0, col0 + count), into out. */
void peftjs_weight_row(const peftjs_weight *w, long row, long col0, long count, float *out);

/*
 * Fills `w` from `count = rows·cols` source values (converted, quantised); `transpose` reads the
 * source as [cols, rows] (GPT-2's Conv1D). Returns 0 on success, -1 when out of memory.
 */
int peftjs_weight_build(peftjs_weight *w, const void *source, int source_type, long rows, long cols, int transpose, int storage, int nested);
void peftjs_weight_release(peftjs_weight *w);

#endif
