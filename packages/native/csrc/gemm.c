/* SGEMM dispatch: one compiled body per ISA (gemm_kernel.inc), chosen at run time for the CPU. */
#include "gemm.h"
#include "store.h"

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
  void (*gemm)(const peftjs_gemm_args *g, float *pack_b, float *scratch, float *pack_a);
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

#ifdef PEFTJS_X86
/* An 8×8 block transpose in AVX registers: dst[i·ldd + j] = src[j·lds + i]. */
__attribute__((target("avx2,fma"), always_inline)) static inline void peftjs_transpose8(const float *src, long lds, float *dst, long ldd) {
  __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + lds), r2 = _mm256_loadu_ps(src + 2 * lds), r3 = _mm256_loadu_ps(src + 3 * lds);
  __m256 r4 = _mm256_loadu_ps(src + 4 * lds), r5 = _mm256_loadu_ps(src + 5 * lds), r6 = _mm256_loadu_ps(src + 6 * lds), r7 = _mm256_loadu_ps(src + 7 * lds);
  __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5), t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE), u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE), u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  _mm256_storeu_ps(dst, _mm256_permute2f128_ps(u0, u4, 0x20));
  _mm256_storeu_ps(dst + ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
  _mm256_storeu_ps(dst + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
  _mm256_storeu_ps(dst + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
  _mm256_storeu_ps(dst + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
  _mm256_storeu_ps(dst + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
  _mm256_storeu_ps(dst + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
  _mm256_storeu_ps(dst + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
}
#define TRANSPOSE8 peftjs_transpose8

/* The same for a 4×4 block, in SSE registers. */
__attribute__((always_inline)) static inline void peftjs_transpose4(const float *src, long lds, float *dst, long ldd) {
  __m128 r0 = _mm_loadu_ps(src), r1 = _mm_loadu_ps(src + lds), r2 = _mm_loadu_ps(src + 2 * lds), r3 = _mm_loadu_ps(src + 3 * lds);
  _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
  _mm_storeu_ps(dst, r0);
  _mm_storeu_ps(dst + ldd, r1);
  _mm_storeu_ps(dst + 2 * ldd, r2);
  _mm_storeu_ps(dst + 3 * ldd, r3);
}
#define TRANSPOSE4 peftjs_transpose4

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

/* ---- AVX-512F: 12×32 micro-tile ---- */
typedef float peftjs_v16u __attribute__((vector_size(64), aligned(4)));
#define SUFFIX avx512
#define TARGET __attribute__((target("avx512f,avx2,fma")))
#define VEC __m512
#define VECU peftjs_v16u
#define VW 16
#define NRV 2
#define MR 12
#define KC 384
#define MC 144
#define NC 4096
#define VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VBCAST(x) _mm512_set1_ps(x)
#define VZERO _mm512_setzero_ps()
#define MRN 24
#include "gemm_kernel.inc"
#undef TRANSPOSE8
#undef TRANSPOSE4
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
  float *a, *b, *scratch;
  size_t a_size, b_size, scratch_size;
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
  float *scratch = NULL;
  if (g->bw != NULL) {
    /* dequantised weight rows: NR rows of kc (x·Wᵀ) or one row of nc (x·W) */
    size_t need = (size_t)blocking->nr * (size_t)(kc > 0 ? kc : 1);
    if ((size_t)nc > need) need = (size_t)nc;
    scratch = ensure(&thread_pack.scratch, &thread_pack.scratch_size, need + 16);
    if (scratch == NULL) abort();
  }
  long mc = g->m < blocking->mc ? g->m : blocking->mc;
  float *pack_a = ensure(&thread_pack.a, &thread_pack.a_size, (size_t)(((mc + blocking->mr - 1) / blocking->mr) * blocking->mr) * (size_t)(kc > 0 ? kc : 1));
  if (pack_a == NULL) abort();
  blocking->gemm(g, pack_b, scratch, pack_a);
}

int peftjs_micro_rows(void) { return blocking_for(peftjs_current_isa())->mr; }
int peftjs_micro_cols(void) { return blocking_for(peftjs_current_isa())->nr; }
