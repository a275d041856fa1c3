/*
 * N-API binding. Every entry point takes the memory to work on (an ArrayBuffer, or a typed array
 * over one: the wasm backend's heap) and a Float64Array of parameters holding byte offsets into
 * it, so tensors are read and written in place. Every range is bounds-checked before use.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "gemm.h"

#define CHECK(call)                                                        \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      napi_throw_error(env, NULL, "@peftjs/native: N-API call failed");    \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

static napi_value fail(napi_env env, const char *message) {
  napi_throw_range_error(env, NULL, message);
  return NULL;
}

/* The bytes of an ArrayBuffer or a typed array's whole range. */
static int memory_of(napi_env env, napi_value value, uint8_t **data, size_t *length) {
  bool is;
  if (napi_is_arraybuffer(env, value, &is) == napi_ok && is) {
    void *pointer;
    if (napi_get_arraybuffer_info(env, value, &pointer, length) != napi_ok) return 0;
    *data = (uint8_t *)pointer;
    return 1;
  }
  if (napi_is_typedarray(env, value, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t count, offset;
    void *pointer;
    napi_value buffer;
    if (napi_get_typedarray_info(env, value, &type, &count, &pointer, &buffer, &offset) != napi_ok) return 0;
    if (type != napi_uint8_array) return 0;
    *data = (uint8_t *)pointer;
    *length = count;
    return 1;
  }
  return 0;
}

static int params_of(napi_env env, napi_value value, double **params, size_t *count) {
  bool is;
  napi_typedarray_type type;
  void *pointer;
  napi_value buffer;
  size_t offset;
  if (napi_is_typedarray(env, value, &is) != napi_ok || !is) return 0;
  if (napi_get_typedarray_info(env, value, &type, count, &pointer, &buffer, &offset) != napi_ok) return 0;
  if (type != napi_float64_array) return 0;
  *params = (double *)pointer;
  return 1;
}

/* A float pointer at byte `offset` for `elements` floats, or NULL when out of range. */
static const float *span(uint8_t *data, size_t length, double offset, double elements) {
  if (!(offset >= 0) || !(elements >= 0) || fmod(offset, 4.0) != 0.0) return NULL;
  if (offset + elements * 4.0 > (double)length) return NULL;
  return (const float *)(data + (size_t)offset);
}

static int is_count(double value) { return value >= 0 && value <= 9.0e15 && floor(value) == value; }

/*
 * sgemm(memory, params): params =
 *  [0] batch [1] m [2] n [3] k [4] a [5] b [6] c (byte offsets) [7] a batch stride [8] b batch stride
 *  (elements; 0 broadcasts one matrix) [9] transposeA [10] transposeB [11] bias (byte offset, -1 none)
 *  [12] bias per batch stride (elements) [13] bias is one value [14] activation [15] leakyrelu alpha
 *  [16] prelu slopes (byte offset, -1 none) [17] prelu is one value [18] matrices in a [19] matrices
 *  in b (0: batch): output matrix i uses a's matrix i % [18] and b's i % [19] (batch broadcasting).
 * C (batch × m × n) is contiguous; bias and prelu slopes have one value per column (or one).
 */
static napi_value sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *data;
  size_t length, count;
  double *p;
  if (argc < 2 || !memory_of(env, argv[0], &data, &length)) return fail(env, "sgemm: memory must be an ArrayBuffer or Uint8Array");
  if (!params_of(env, argv[1], &p, &count) || count < 20) return fail(env, "sgemm: params must be a Float64Array of 20");
  for (int i = 0; i < 4; i++)
    if (!is_count(p[i])) return fail(env, "sgemm: bad batch or matrix size");
  if (!is_count(p[7]) || !is_count(p[8]) || !is_count(p[12]) || !is_count(p[18]) || !is_count(p[19]))
    return fail(env, "sgemm: bad batch stride or count");
  long batch = (long)p[0], m = (long)p[1], n = (long)p[2], k = (long)p[3];
  long stride_a = (long)p[7], stride_b = (long)p[8], stride_bias = (long)p[12];
  long batches_a = p[18] > 0 ? (long)p[18] : batch, batches_b = p[19] > 0 ? (long)p[19] : batch;
  if (batches_a > batch || batches_b > batch) return fail(env, "sgemm: more input matrices than outputs");
  int trans_a = p[9] != 0, trans_b = p[10] != 0;
  if (batch == 0 || m == 0 || n == 0) return NULL;
  const float *a = span(data, length, p[4], (double)(batches_a - 1) * stride_a + (double)m * k);
  const float *b = span(data, length, p[5], (double)(batches_b - 1) * stride_b + (double)k * n);
  float *c = (float *)span(data, length, p[6], (double)batch * m * n);
  if (a == NULL || b == NULL || c == NULL) return fail(env, "sgemm: an operand lies outside the memory");
  int bias_scalar = p[13] != 0, prelu_scalar = p[17] != 0;
  const float *bias = NULL, *prelu = NULL;
  if (p[11] >= 0) {
    bias = span(data, length, p[11], (double)(batch - 1) * stride_bias + (bias_scalar ? 1 : n));
    if (bias == NULL) return fail(env, "sgemm: the bias lies outside the memory");
  }
  int activation = (int)p[14];
  if (activation < PEFTJS_ACT_LINEAR || activation > PEFTJS_ACT_PRELU) return fail(env, "sgemm: unknown activation");
  if (activation == PEFTJS_ACT_PRELU) {
    prelu = span(data, length, p[16], prelu_scalar ? 1 : n);
    if (prelu == NULL) return fail(env, "sgemm: the prelu slopes lie outside the memory");
  }
  peftjs_gemm_args g;
  memset(&g, 0, sizeof g);
  g.m = m; g.n = n; g.k = k;
  g.lda = trans_a ? m : k; g.trans_a = trans_a;
  g.ldb = trans_b ? k : n; g.trans_b = trans_b;
  g.ldc = n;
  g.bias_scalar = bias_scalar;
  g.activation = activation;
  g.alpha = (float)p[15];
  g.prelu = prelu;
  g.prelu_scalar = prelu_scalar;
  if (batch > 1 && (stride_b == 0 || batches_b == 1) && batches_a == batch && !trans_a && stride_a == m * k &&
      (bias == NULL || stride_bias == 0)) {
    /* one b for every batch entry and a contiguous a: a single (batch·m) × k product */
    g.m = batch * m; g.a = a; g.b = b; g.c = c; g.bias = bias;
    peftjs_gemm(&g);
    return NULL;
  }
  for (long index = 0; index < batch; index++) {
    g.a = a + (index % batches_a) * stride_a;
    g.b = b + (index % batches_b) * stride_b;
    g.c = c + index * m * n;
    g.bias = bias == NULL ? NULL : bias + index * stride_bias;
    peftjs_gemm(&g);
  }
  return NULL;
}

/*
 * adam(memory, params): params = [0] n [1] var [2] m [3] v [4] g [5] var out [6] m out [7] v out
 * (byte offsets; outputs may be the inputs) [8] lr [9] beta1 [10] beta2 [11] epsilon [12] 1-beta1^t
 * [13] 1-beta2^t [14] decoupled weight decay [15] 1-beta1 [16] 1-beta2.
 */
static napi_value adam(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *data;
  size_t length, count;
  double *p;
  if (argc < 2 || !memory_of(env, argv[0], &data, &length)) return fail(env, "adam: memory must be an ArrayBuffer or Uint8Array");
  if (!params_of(env, argv[1], &p, &count) || count < 17) return fail(env, "adam: params must be a Float64Array of 17");
  if (!is_count(p[0])) return fail(env, "adam: bad size");
  double n = p[0];
  const float *spans[7];
  for (int i = 0; i < 7; i++) {
    spans[i] = span(data, length, p[1 + i], n);
    if (spans[i] == NULL) return fail(env, "adam: a tensor lies outside the memory");
  }
  peftjs_adam_args args = {
      (long)n, spans[0], spans[1], spans[2], spans[3], (float *)spans[4], (float *)spans[5], (float *)spans[6],
      (float)p[8], (float)p[9], (float)p[10], (float)p[15], (float)p[16], (float)p[11], (float)p[12], (float)p[13], (float)p[14]};
  peftjs_adam(&args);
  return NULL;
}

static const char *isa_names[] = {"portable", "avx2", "avx512"};

static napi_value make_string(napi_env env, const char *text) {
  napi_value value;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &value);
  return value;
}

/* info() → { isa, bestIsa, threads } */
static napi_value info_fn(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result, threads;
  CHECK(napi_create_object(env, &result));
  CHECK(napi_set_named_property(env, result, "isa", make_string(env, isa_names[peftjs_current_isa()])));
  CHECK(napi_set_named_property(env, result, "bestIsa", make_string(env, isa_names[peftjs_detect_isa()])));
  CHECK(napi_create_int32(env, peftjs_get_threads(), &threads));
  CHECK(napi_set_named_property(env, result, "threads", threads));
  return result;
}

/* setIsa(name | null) → whether the CPU has it (null: back to the best) */
static napi_value set_isa(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int isa = -1;
  napi_valuetype type = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &type);
  if (type == napi_string) {
    char name[16] = {0};
    size_t copied;
    CHECK(napi_get_value_string_utf8(env, argv[0], name, sizeof name, &copied));
    isa = -2;
    for (int i = 0; i < 3; i++)
      if (strcmp(name, isa_names[i]) == 0) isa = i;
    if (isa == -2) return fail(env, "setIsa: unknown ISA; valid: portable, avx2, avx512");
  }
  CHECK(napi_get_boolean(env, peftjs_set_isa(isa) != 0, &result));
  return result;
}

/* setThreads(n) → the number of threads now used */
static napi_value set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  int32_t threads = 1;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc >= 1 && napi_get_value_int32(env, argv[0], &threads) != napi_ok) return fail(env, "setThreads: not a number");
  CHECK(napi_create_int32(env, peftjs_set_threads(threads), &result));
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"sgemm", NULL, sgemm, NULL, NULL, NULL, napi_default, NULL},
      {"adam", NULL, adam, NULL, NULL, NULL, napi_default, NULL},
      {"info", NULL, info_fn, NULL, NULL, NULL, napi_default, NULL},
      {"setIsa", NULL, set_isa, NULL, NULL, NULL, napi_default, NULL},
      {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
