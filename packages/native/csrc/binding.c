/*
 * N-API binding. Every entry point takes the memory to work on (an ArrayBuffer, or a typed array
 * over one: the wasm backend's heap) and a Float64Array of parameters holding byte offsets into
 * it, so tensors are read and written in place. Every range is bounds-checked before use.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
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
 * The arguments of every `(memory, params)` entry point: the memory's bytes and at least `need`
 * parameters. Returns 0 after throwing a RangeError that names `name` and what was expected.
 */
static int memory_call(napi_env env, napi_callback_info info, const char *name, size_t need, uint8_t **data, size_t *length, double **params) {
  size_t argc = 2, count;
  napi_value argv[2];
  char message[128];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "@peftjs/native: N-API call failed");
    return 0;
  }
  if (argc < 2 || !memory_of(env, argv[0], data, length)) {
    snprintf(message, sizeof message, "%s: memory must be an ArrayBuffer or Uint8Array", name);
    napi_throw_range_error(env, NULL, message);
    return 0;
  }
  if (!params_of(env, argv[1], params, &count) || count < need) {
    snprintf(message, sizeof message, "%s: params must be a Float64Array of %zu", name, need);
    napi_throw_range_error(env, NULL, message);
    return 0;
  }
  return 1;
}

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
  uint8_t *data;
  size_t length;
  double *p;
  if (!memory_call(env, info, "sgemm", 20, &data, &length, &p)) return NULL;
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
  uint8_t *data;
  size_t length;
  double *p;
  if (!memory_call(env, info, "adam", 17, &data, &length, &p)) return NULL;
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

/* ==== frozen-weight store (weights outside the wasm heap; see store.h) ==== */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

typedef struct {
  uint8_t *base;
  size_t length;
  int references; /* the open handle counts one, each entry mapped in it one */
} peftjs_mapping;

static peftjs_weight **entries = NULL;
static long entry_capacity = 0;
static peftjs_mapping *mappings = NULL;
static long mapping_capacity = 0;

static peftjs_weight *entry_of(double id) {
  if (!(id >= 1) || id > (double)entry_capacity || floor(id) != id) return NULL;
  return entries[(long)id - 1];
}

/* The store entry named by argument 0 of an entry point taking an entry id; NULL after throwing. */
static peftjs_weight *entry_call(napi_env env, napi_callback_info info, const char *name, double *id) {
  size_t argc = 1;
  napi_value argv[1];
  char message[96];
  *id = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_double(env, argv[0], id) != napi_ok) {
    snprintf(message, sizeof message, "%s: id must be a number", name);
    napi_throw_range_error(env, NULL, message);
    return NULL;
  }
  peftjs_weight *w = entry_of(*id);
  if (w == NULL) {
    snprintf(message, sizeof message, "%s: unknown entry", name);
    napi_throw_range_error(env, NULL, message);
  }
  return w;
}

static void mapping_release(int index) {
  if (index < 0 || index >= mapping_capacity || mappings[index].base == NULL) return;
  if (--mappings[index].references > 0) return;
  munmap(mappings[index].base, mappings[index].length);
  mappings[index].base = NULL;
  mappings[index].length = 0;
}

static void entry_clear(peftjs_weight *w) {
  if (w->mapping >= 0) {
    mapping_release(w->mapping);
    w->mapping = -1;
    w->data = NULL;
  }
  peftjs_weight_release(w);
}

static long entry_add(peftjs_weight *w) {
  for (long index = 0; index < entry_capacity; index++)
    if (entries[index] == NULL) {
      entries[index] = w;
      return index + 1;
    }
  long capacity = entry_capacity > 0 ? entry_capacity * 2 : 256;
  peftjs_weight **grown = (peftjs_weight **)realloc(entries, (size_t)capacity * sizeof *grown);
  if (grown == NULL) return -1;
  for (long index = entry_capacity; index < capacity; index++) grown[index] = NULL;
  entries = grown;
  entries[entry_capacity] = w;
  long id = entry_capacity + 1;
  entry_capacity = capacity;
  return id;
}

static napi_value make_number(napi_env env, double value) {
  napi_value result;
  napi_create_double(env, value, &result);
  return result;
}

/* storeMapFile(path) → mapping id: the whole file mapped read-only and shared (the page cache). */
static napi_value store_map_file(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[4096];
  size_t copied;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &copied) != napi_ok || copied >= sizeof path - 1)
    return fail(env, "storeMapFile: path must be a string");
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(env, "storeMapFile: cannot open the file");
  struct stat status;
  if (fstat(fd, &status) != 0 || status.st_size <= 0) {
    close(fd);
    return fail(env, "storeMapFile: cannot stat the file, or it is empty");
  }
  void *base = mmap(NULL, (size_t)status.st_size, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (base == MAP_FAILED) return fail(env, "storeMapFile: mmap failed");
  long index = -1;
  for (long candidate = 0; candidate < mapping_capacity; candidate++)
    if (mappings[candidate].base == NULL) {
      index = candidate;
      break;
    }
  if (index < 0) {
    long capacity = mapping_capacity > 0 ? mapping_capacity * 2 : 16;
    peftjs_mapping *grown = (peftjs_mapping *)realloc(mappings, (size_t)capacity * sizeof *grown);
    if (grown == NULL) {
      munmap(base, (size_t)status.st_size);
      return fail(env, "storeMapFile: out of memory");
    }
    memset(grown + mapping_capacity, 0, (size_t)(capacity - mapping_capacity) * sizeof *grown);
    mappings = grown;
    index = mapping_capacity;
    mapping_capacity = capacity;
  }
  mappings[index].base = (uint8_t *)base;
  mappings[index].length = (size_t)status.st_size;
  mappings[index].references = 1;
  return make_number(env, (double)index);
}

/* storeUnmapFile(id): drops the handle; the file stays mapped while entries use it. */
static napi_value store_unmap_file(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  double id = -1;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_double(env, argv[0], &id) != napi_ok || !(id >= 0) || id >= (double)mapping_capacity || mappings[(long)id].base == NULL)
    return fail(env, "storeUnmapFile: unknown mapping");
  mapping_release((int)id);
  return NULL;
}

static const int source_sizes[3] = {4, 2, 2};

/*
 * storeCreate(params, source?) → entry id. params = [0] source: 0 memory (`source`), 1 a mapping
 * [1] mapping id [2] byte offset [3] source type (0 F32, 1 BF16, 2 F16) [4] rows [5] cols
 * [6] transposed source ([cols, rows]) [7] storage (enum peftjs_storage) [8] double quantisation.
 * A mapped source already in the storage's type and layout is used in place (no copy).
 */
static napi_value store_create(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  double *p;
  size_t count;
  if (argc < 1 || !params_of(env, argv[0], &p, &count) || count < 9) return fail(env, "storeCreate: params must be a Float64Array of 9");
  if (!is_count(p[2]) || !is_count(p[4]) || !is_count(p[5]) || p[4] < 1 || p[5] < 1) return fail(env, "storeCreate: bad offset or shape");
  int source_type = (int)p[3], storage = (int)p[7], transpose = p[6] != 0, nested = p[8] != 0;
  if (source_type < 0 || source_type > 2 || p[3] != source_type) return fail(env, "storeCreate: unknown source type; valid: 0 F32, 1 BF16, 2 F16");
  if (storage < PEFTJS_STORE_F32 || storage > PEFTJS_STORE_FP4 || p[7] != storage) return fail(env, "storeCreate: unknown storage; valid: 0 f32, 1 bf16, 2 f16, 3 int8, 4 nf4, 5 fp4");
  long rows = (long)p[4], cols = (long)p[5];
  double need = p[2] + p[4] * p[5] * source_sizes[source_type];
  const uint8_t *source;
  int mapping = -1;
  if (p[0] == 1) {
    if (!(p[1] >= 0) || p[1] >= (double)mapping_capacity || mappings[(long)p[1]].base == NULL) return fail(env, "storeCreate: unknown mapping");
    mapping = (int)p[1];
    if (need > (double)mappings[mapping].length) return fail(env, "storeCreate: the tensor lies outside the mapped file");
    source = mappings[mapping].base + (size_t)p[2];
  } else {
    uint8_t *data;
    size_t length;
    if (argc < 2 || !memory_of(env, argv[1], &data, &length)) return fail(env, "storeCreate: source must be an ArrayBuffer or Uint8Array");
    if (need > (double)length) return fail(env, "storeCreate: the tensor lies outside the source memory");
    source = data + (size_t)p[2];
  }
  peftjs_weight *w = (peftjs_weight *)calloc(1, sizeof *w);
  if (w == NULL) return fail(env, "storeCreate: out of memory");
  int in_place = mapping >= 0 && !transpose && (size_t)p[2] % (size_t)source_sizes[source_type] == 0 &&
                 ((storage == PEFTJS_STORE_F32 && source_type == PEFTJS_SOURCE_F32) || (storage == PEFTJS_STORE_BF16 && source_type == PEFTJS_SOURCE_BF16) ||
                  (storage == PEFTJS_STORE_F16 && source_type == PEFTJS_SOURCE_F16));
  if (in_place) {
    w->storage = storage;
    w->rows = rows;
    w->cols = cols;
    w->data = source;
    w->mapping = mapping;
    mappings[mapping].references++;
  } else {
    if (peftjs_weight_build(w, source, source_type, rows, cols, transpose, storage, nested) != 0) {
      free(w);
      return fail(env, "storeCreate: out of native memory");
    }
    if (mapping >= 0) {
      /* the converted copy is all that is needed: drop the source pages from this process (they stay in the page cache) */
      size_t page = (size_t)sysconf(_SC_PAGESIZE);
      size_t first = ((size_t)p[2] + page - 1) / page * page, last = (size_t)need / page * page;
      if (last > first) madvise(mappings[mapping].base + first, last - first, MADV_DONTNEED);
    }
  }
  long id = entry_add(w);
  if (id < 0) {
    entry_clear(w);
    free(w);
    return fail(env, "storeCreate: out of memory");
  }
  return make_number(env, (double)id);
}

/* storeFree(id) */
static napi_value store_free(napi_env env, napi_callback_info info) {
  double id;
  peftjs_weight *w = entry_call(env, info, "storeFree", &id);
  if (w == NULL) return NULL;
  entry_clear(w);
  free(w);
  entries[(long)id - 1] = NULL;
  return NULL;
}

static void set_number(napi_env env, napi_value object, const char *name, double value) {
  napi_set_named_property(env, object, name, make_number(env, value));
}

/* storeInfo(id) → { rows, cols, storage, nested, bytes, mapped } */
static napi_value store_info(napi_env env, napi_callback_info info) {
  napi_value result, mapped;
  double id;
  peftjs_weight *w = entry_call(env, info, "storeInfo", &id);
  if (w == NULL) return NULL;
  CHECK(napi_create_object(env, &result));
  set_number(env, result, "rows", (double)w->rows);
  set_number(env, result, "cols", (double)w->cols);
  set_number(env, result, "storage", (double)w->storage);
  set_number(env, result, "nested", (double)w->nested);
  set_number(env, result, "bytes", (double)w->bytes);
  CHECK(napi_get_boolean(env, w->mapping >= 0, &mapped));
  CHECK(napi_set_named_property(env, result, "mapped", mapped));
  return result;
}

/* storeStats() → { entries, bytes (native memory held), mappedBytes (file bytes mapped) } */
static napi_value store_stats(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  double count = 0, bytes = 0, mapped = 0;
  for (long index = 0; index < entry_capacity; index++)
    if (entries[index] != NULL) {
      count++;
      bytes += (double)entries[index]->bytes;
    }
  for (long index = 0; index < mapping_capacity; index++)
    if (mappings[index].base != NULL) mapped += (double)mappings[index].length;
  CHECK(napi_create_object(env, &result));
  set_number(env, result, "entries", count);
  set_number(env, result, "bytes", bytes);
  set_number(env, result, "mappedBytes", mapped);
  return result;
}

static int floats_of(napi_env env, napi_value value, float **data, size_t *count) {
  bool is;
  napi_typedarray_type type;
  void *pointer;
  napi_value buffer;
  size_t offset;
  if (napi_is_typedarray(env, value, &is) != napi_ok || !is) return 0;
  if (napi_get_typedarray_info(env, value, &type, count, &pointer, &buffer, &offset) != napi_ok || type != napi_float32_array) return 0;
  *data = (float *)pointer;
  return 1;
}

/* storeRead(id, out: Float32Array, row0, rows): rows [row0, row0 + rows) dequantised to float32. */
static napi_value store_read(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  double id = 0, row0 = 0, rows = 0;
  float *out;
  size_t count;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4 || napi_get_value_double(env, argv[0], &id) != napi_ok || !floats_of(env, argv[1], &out, &count) ||
      napi_get_value_double(env, argv[2], &row0) != napi_ok || napi_get_value_double(env, argv[3], &rows) != napi_ok)
    return fail(env, "storeRead(id, out: Float32Array, row0, rows)");
  peftjs_weight *w = entry_of(id);
  if (w == NULL) return fail(env, "storeRead: unknown entry");
  if (!is_count(row0) || !is_count(rows) || row0 + rows > (double)w->rows || rows * (double)w->cols > (double)count)
    return fail(env, "storeRead: rows out of range, or out too small");
  for (long r = 0; r < (long)rows; r++) peftjs_weight_row(w, (long)row0 + r, 0, w->cols, out + (size_t)r * (size_t)w->cols);
  return NULL;
}

/* storeWrite(id, values: Float32Array): new values (rows × cols) in the entry's own storage (requantised). */
static napi_value store_write(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  double id = 0;
  float *values;
  size_t count;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || napi_get_value_double(env, argv[0], &id) != napi_ok || !floats_of(env, argv[1], &values, &count))
    return fail(env, "storeWrite(id, values: Float32Array)");
  peftjs_weight *w = entry_of(id);
  if (w == NULL) return fail(env, "storeWrite: unknown entry");
  if ((double)count != (double)w->rows * (double)w->cols) return fail(env, "storeWrite: values must hold rows × cols floats");
  peftjs_weight fresh;
  int nested = w->nested;
  if (peftjs_weight_build(&fresh, values, PEFTJS_SOURCE_F32, w->rows, w->cols, 0, w->storage, nested) != 0) return fail(env, "storeWrite: out of native memory");
  entry_clear(w);
  *w = fresh;
  return NULL;
}

static int entry_span(uint8_t *data, size_t length, double offset, double elements, const float **out) {
  *out = span(data, length, offset, elements);
  return *out != NULL;
}

/*
 * storeMatMul(memory, params): out = x·Wᵀ (+ bias) or x·W, W a store entry, x and out float32 on `memory`.
 * params = [0] entry [1] m (rows of x) [2] x (byte offset) [3] out [4] 1: x·Wᵀ (x has W's cols, out W's rows),
 * 0: x·W (x has W's rows, out W's cols) [5] bias (byte offset, -1 none; one per output column).
 */
static napi_value store_mat_mul(napi_env env, napi_callback_info info) {
  uint8_t *data;
  size_t length;
  double *p;
  if (!memory_call(env, info, "storeMatMul", 6, &data, &length, &p)) return NULL;
  peftjs_weight *w = entry_of(p[0]);
  if (w == NULL) return fail(env, "storeMatMul: unknown entry");
  if (!is_count(p[1])) return fail(env, "storeMatMul: bad m");
  int transposed = p[4] != 0;
  long m = (long)p[1], k = transposed ? w->cols : w->rows, n = transposed ? w->rows : w->cols;
  if (m == 0) return NULL;
  const float *x, *out, *bias = NULL;
  if (!entry_span(data, length, p[2], (double)m * k, &x) || !entry_span(data, length, p[3], (double)m * n, &out))
    return fail(env, "storeMatMul: an operand lies outside the memory");
  if (p[5] >= 0 && !entry_span(data, length, p[5], (double)n, &bias)) return fail(env, "storeMatMul: the bias lies outside the memory");
  peftjs_gemm_args g;
  memset(&g, 0, sizeof g);
  g.m = m; g.n = n; g.k = k;
  g.a = x; g.lda = k;
  g.trans_b = transposed;
  g.bw = w;
  g.c = (float *)out; g.ldc = n;
  g.bias = bias;
  g.activation = PEFTJS_ACT_LINEAR;
  peftjs_gemm(&g);
  return NULL;
}

/* storeGather(memory, params): out[i] = W[ids[i]] (float32 rows). params = [0] entry [1] count [2] ids (int32, byte offset) [3] out. */
static napi_value store_gather(napi_env env, napi_callback_info info) {
  uint8_t *data;
  size_t length;
  double *p;
  if (!memory_call(env, info, "storeGather", 4, &data, &length, &p)) return NULL;
  peftjs_weight *w = entry_of(p[0]);
  if (w == NULL) return fail(env, "storeGather: unknown entry");
  if (!is_count(p[1])) return fail(env, "storeGather: bad count");
  long rows = (long)p[1];
  const float *ids, *out;
  if (!entry_span(data, length, p[2], (double)rows, &ids) || !entry_span(data, length, p[3], (double)rows * w->cols, &out))
    return fail(env, "storeGather: an operand lies outside the memory");
  const int32_t *index = (const int32_t *)ids;
  for (long r = 0; r < rows; r++)
    if (index[r] < 0 || index[r] >= w->rows) return fail(env, "storeGather: an index is outside the table");
  for (long r = 0; r < rows; r++) peftjs_weight_row(w, index[r], 0, w->cols, (float *)out + (size_t)r * (size_t)w->cols);
  return NULL;
}


/* measurePeak(milliseconds) → GFLOP/s of this core's widest FMA on independent registers (the GEMM's ceiling). */
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
/* Twelve independent FMA chains in named registers (an array would live in memory). */
#define PEFTJS_PEAK_BODY(FMA, SET, ASM)                                                                   \
  VT a0 = SET(0.f), a1 = SET(1.f), a2 = SET(2.f), a3 = SET(3.f), a4 = SET(4.f), a5 = SET(5.f);         \
  VT a6 = SET(6.f), a7 = SET(7.f), a8 = SET(8.f), a9 = SET(9.f), a10 = SET(10.f), a11 = SET(11.f);     \
  VT b = SET(0.999999f), c = SET(1e-7f);                                                              \
  for (long n = 0; n < iterations; n++) {                                                             \
    a0 = FMA(a0, b, c); a1 = FMA(a1, b, c); a2 = FMA(a2, b, c); a3 = FMA(a3, b, c);                   \
    a4 = FMA(a4, b, c); a5 = FMA(a5, b, c); a6 = FMA(a6, b, c); a7 = FMA(a7, b, c);                   \
    a8 = FMA(a8, b, c); a9 = FMA(a9, b, c); a10 = FMA(a10, b, c); a11 = FMA(a11, b, c);               \
    __asm__ volatile("" : ASM(a0), ASM(a1), ASM(a2), ASM(a3), ASM(a4), ASM(a5));                      \
    __asm__ volatile("" : ASM(a6), ASM(a7), ASM(a8), ASM(a9), ASM(a10), ASM(a11));                    \
  }
#define PEFTJS_REG_X(v) "+x"(v)
#define PEFTJS_REG_V(v) "+v"(v)
__attribute__((target("avx2,fma"))) static double peak_avx2(long iterations) {
#define VT __m256
  PEFTJS_PEAK_BODY(_mm256_fmadd_ps, _mm256_set1_ps, PEFTJS_REG_X)
#undef VT
  float out[8];
  _mm256_storeu_ps(out, _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)), _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(_mm256_add_ps(a6, a7), _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11))))));
  return (double)out[0];
}
__attribute__((target("avx512f"))) static double peak_avx512(long iterations) {
#define VT __m512
  PEFTJS_PEAK_BODY(_mm512_fmadd_ps, _mm512_set1_ps, PEFTJS_REG_V)
#undef VT
  return (double)_mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)), _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(_mm512_add_ps(a6, a7), _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11))))));
}
#endif

static double seconds_now(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

static napi_value measure_peak(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  double milliseconds = 200;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc >= 1) napi_get_value_double(env, argv[0], &milliseconds);
  int isa = peftjs_current_isa();
  double best = 0, sink = 0;
#if defined(__x86_64__)
  long iterations = 1L << 20;
  int lanes = isa == PEFTJS_ISA_AVX512 ? 16 : 8;
  double end = seconds_now() + milliseconds / 1000.0;
  while (seconds_now() < end && isa >= PEFTJS_ISA_AVX2) {
    double start = seconds_now();
    sink += isa == PEFTJS_ISA_AVX512 ? peak_avx512(iterations) : peak_avx2(iterations);
    double elapsed = seconds_now() - start;
    double rate = (double)iterations * 12.0 * lanes * 2.0 / elapsed / 1e9;
    if (rate > best) best = rate;
  }
#endif
  (void)sink;
  return make_number(env, best);
}

#define PEFTJS_STORE_PROPERTIES                                                                  \
  {"storeMapFile", NULL, store_map_file, NULL, NULL, NULL, napi_default, NULL},                  \
      {"storeUnmapFile", NULL, store_unmap_file, NULL, NULL, NULL, napi_default, NULL},          \
      {"storeCreate", NULL, store_create, NULL, NULL, NULL, napi_default, NULL},                 \
      {"storeFree", NULL, store_free, NULL, NULL, NULL, napi_default, NULL},                     \
      {"storeInfo", NULL, store_info, NULL, NULL, NULL, napi_default, NULL},                     \
      {"storeStats", NULL, store_stats, NULL, NULL, NULL, napi_default, NULL},                   \
      {"storeRead", NULL, store_read, NULL, NULL, NULL, napi_default, NULL},                     \
      {"storeWrite", NULL, store_write, NULL, NULL, NULL, napi_default, NULL},                   \
      {"storeMatMul", NULL, store_mat_mul, NULL, NULL, NULL, napi_default, NULL},                \
      {"storeGather", NULL, store_gather, NULL, NULL, NULL, napi_default, NULL},                 \
      {"measurePeak", NULL, measure_peak, NULL, NULL, NULL, napi_default, NULL},
/* ==== end of the frozen-weight store ==== */

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"sgemm", NULL, sgemm, NULL, NULL, NULL, napi_default, NULL},
      {"adam", NULL, adam, NULL, NULL, NULL, napi_default, NULL},
      {"info", NULL, info_fn, NULL, NULL, NULL, napi_default, NULL},
      {"setIsa", NULL, set_isa, NULL, NULL, NULL, napi_default, NULL},
      {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_default, NULL},
      PEFTJS_STORE_PROPERTIES
  };
  peftjs_dynamic_code();
  if (napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
