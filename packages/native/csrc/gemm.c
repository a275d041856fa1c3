/* SGEMM dispatch: one compiled body per ISA (gemm_kernel.inc), chosen at run time for the CPU. */
#include "gemm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define PEFTJS_X86 1
#include <immintrin.h>
#endif

typedef struct {
  int mr, nr;
  long kc, mc, nc;
  void (*gemm)(const peftjs_gemm_args *g, float *pack_b);
} peftjs_blocking;

static void peftjs_activate(const peftjs_gemm_args *g, float *row, long cols, long j0) {
  switch (g->activation) {
    case PEFTJS_ACT_RELU:
      for (long j = 0; j < cols; j++) row[j] = row[j] < 0.0f ? 0.0f : row[j];
      break;
    case PEFTJS_ACT_RELU6:
      for (long j = 0; j < cols; j++) row[j] = row[j] < 0.0f ? 0.0f : (row[j] > 6.0f ? 6.0f : row[j]);
      break;
    case PEFTJS_ACT_LEAKYRELU:
      for (long j = 0; j < cols; j++) row[j] = row[j] < 0.0f ? row[j] * g->alpha : row[j];
      break;
    case PEFTJS_ACT_PRELU:
      for (long j = 0; j < cols; j++) {
        float slope = g->prelu_scalar ? g->prelu[0] : g->prelu[j0 + j];
        row[j] = row[j] < 0.0f ? row[j] * slope : row[j];
      }
      break;
    case PEFTJS_ACT_SIGMOID:
      for (long j = 0; j < cols; j++) row[j] = 1.0f / (1.0f + expf(-row[j]));
      break;
    case PEFTJS_ACT_ELU:
      for (long j = 0; j < cols; j++) row[j] = row[j] < 0.0f ? expf(row[j]) - 1.0f : row[j];
      break;
    default:
      break;
  }
}

/* ---- portable: GCC/Clang vector extensions, 4 floats (SSE2 on x86-64, NEON on arm64) ---- */
typedef float peftjs_v4 __attribute__((vector_size(16)));
typedef float peftjs_v4u __attribute__((vector_size(16), aligned(4)));
#define SUFFIX portable
#define TARGET
#define VEC peftjs_v4
#define VECU peftjs_v4u
#define VW 4
#define NRV 2
#define MR 6
#define KC 256
#define MC 96
#define NC 4096
#define VFMA(a, b, c) ((a) * (b) + (c))
#define VBCAST(x) ((VEC){(x), (x), (x), (x)})
#define VZERO ((VEC){0, 0, 0, 0})
#define MRN 8
#include "gemm_kernel.inc"
#undef SUFFIX
#undef TARGET
#undef VEC
#undef VECU
#undef VW
#undef NRV
#undef MR
#undef KC
#undef MC
#undef NC
#undef VFMA
#undef VBCAST
#undef VZERO
#undef MRN

#ifdef PEFTJS_X86
/* ---- AVX2 + FMA: 6×16 micro-tile ---- */
typedef float peftjs_v8u __attribute__((vector_size(32), aligned(4)));
#define SUFFIX avx2
#define TARGET __attribute__((target("avx2,fma")))
#define VEC __m256
#define VECU peftjs_v8u
#define VW 8
#define NRV 2
#define MR 6
#define KC 256
#define MC 96
#define NC 4096
#define VFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define VBCAST(x) _mm256_set1_ps(x)
#define VZERO _mm256_setzero_ps()
#define MRN 12
#include "gemm_kernel.inc"
#undef SUFFIX
#undef TARGET
#undef VEC
#undef VECU
#undef VW
#undef NRV
#undef MR
#undef KC
#undef MC
#undef NC
#undef VFMA
#undef VBCAST
#undef VZERO
#undef MRN

/* ---- AVX-512F: 12×32 micro-tile ---- */
typedef float peftjs_v16u __attribute__((vector_size(64), aligned(4)));
#define SUFFIX avx512
#define TARGET __attribute__((target("avx512f,avx2,fma")))
#define VEC __m512
#define VECU peftjs_v16u
#define VW 16
#define NRV 2
#define MR 12
#define KC 256
#define MC 96
#define NC 4096
#define VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VBCAST(x) _mm512_set1_ps(x)
#define VZERO _mm512_setzero_ps()
#define MRN 24
#include "gemm_kernel.inc"
#undef SUFFIX
#undef TARGET
#undef VEC
#undef VECU
#undef VW
#undef NRV
#undef MR
#undef KC
#undef MC
#undef NC
#undef VFMA
#undef VBCAST
#undef VZERO
#undef MRN
#endif

static int detected_isa = -1;
static int forced_isa = -1;

int peftjs_detect_isa(void) {
  if (detected_isa < 0) {
    detected_isa = PEFTJS_ISA_PORTABLE;
#ifdef PEFTJS_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) detected_isa = PEFTJS_ISA_AVX2;
    if (__builtin_cpu_supports("avx512f") && detected_isa == PEFTJS_ISA_AVX2) detected_isa = PEFTJS_ISA_AVX512;
#endif
  }
  return detected_isa;
}

int peftjs_set_isa(int isa) {
  if (isa < 0) {
    forced_isa = -1;
    return 1;
  }
  if (isa > peftjs_detect_isa()) return 0;
  forced_isa = isa;
  return 1;
}

int peftjs_current_isa(void) { return forced_isa >= 0 ? forced_isa : peftjs_detect_isa(); }

static const peftjs_blocking *blocking_for(int isa) {
#ifdef PEFTJS_X86
  if (isa == PEFTJS_ISA_AVX512) return &blocking_avx512;
  if (isa == PEFTJS_ISA_AVX2) return &blocking_avx2;
#endif
  (void)isa;
  return &blocking_portable;
}

/* Pack buffers, one pair per thread, grown on demand (64-byte aligned). */
typedef struct {
  float *a, *b;
  size_t a_size, b_size;
} peftjs_pack;

static float *ensure(float **buffer, size_t *size, size_t need) {
  if (*size < need) {
    free(*buffer);
    *buffer = (float *)aligned_alloc(64, ((need * sizeof(float) + 63) / 64) * 64);
    *size = *buffer != NULL ? need : 0;
  }
  return *buffer;
}

static _Thread_local peftjs_pack thread_pack;

void peftjs_gemm_single(const peftjs_gemm_args *g) {
  const peftjs_blocking *blocking = blocking_for(peftjs_current_isa());
  long kc = g->k < blocking->kc ? g->k : blocking->kc;
  long nc = g->n < blocking->nc ? g->n : blocking->nc;
  size_t b_need = (size_t)(((nc + blocking->nr - 1) / blocking->nr) * blocking->nr) * (size_t)(kc > 0 ? kc : 1);
  float *pack_b = ensure(&thread_pack.b, &thread_pack.b_size, b_need);
  if (pack_b == NULL) abort();
  blocking->gemm(g, pack_b);
}

int peftjs_micro_rows(void) { return blocking_for(peftjs_current_isa())->mr; }
int peftjs_micro_cols(void) { return blocking_for(peftjs_current_isa())->nr; }
