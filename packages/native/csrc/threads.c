/*
 * A small fixed pool of worker threads for large products (opt-in: 1 thread by default). A product
 * is split into row blocks (or column blocks when it has few rows); each thread runs the
 * single-threaded kernel on its block with its own packing buffer.
 */
#include "gemm.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

void peftjs_gemm_single(const peftjs_gemm_args *g);
int peftjs_micro_rows(void);
int peftjs_micro_cols(void);
void peftjs_adam_range(const peftjs_adam_args *args, long begin, long end);

#define PEFTJS_MAX_THREADS 64
/* Products below this many multiply-adds stay on the calling thread (waking workers costs ~10 µs). */
#define PEFTJS_PARALLEL_MIN_WORK (1L << 20)

typedef struct {
  int kind; /* 0 gemm, 1 adam */
  peftjs_gemm_args gemm;
  const peftjs_adam_args *adam;
  long begin, end;
} peftjs_job;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;
static pthread_t workers[PEFTJS_MAX_THREADS];
static peftjs_job jobs[PEFTJS_MAX_THREADS];
static int worker_count = 0; /* threads besides the caller */
static int target_threads = 1;
static unsigned long generation = 0;
static int pending = 0;
static int stopping = 0;
static unsigned long start_generation = 0; /* `generation` when the current pool was created */

static void run_job(const peftjs_job *job) {
  if (job->kind == 0) {
    if (job->gemm.m > 0 && job->gemm.n > 0) peftjs_gemm_single(&job->gemm);
  } else {
    peftjs_adam_range(job->adam, job->begin, job->end);
  }
}

static void *worker_main(void *arg) {
  int index = (int)(long)arg;
  pthread_mutex_lock(&lock);
  /* Start from the generation the pool was created at: a pool re-created after earlier runs must
   * not take the last generation for new work (it would rerun a stale job and drive `pending`
   * below zero), and a worker that starts late must still see the first run. */
  unsigned long seen = start_generation;
  for (;;) {
    while (generation == seen && !stopping) pthread_cond_wait(&wake, &lock);
    if (stopping) break;
    seen = generation;
    int active = index < target_threads - 1;
    pthread_mutex_unlock(&lock);
    if (active) run_job(&jobs[index + 1]);
    pthread_mutex_lock(&lock);
    if (active && --pending == 0) pthread_cond_signal(&done);
  }
  pthread_mutex_unlock(&lock);
  return NULL;
}

static void stop_workers(void) {
  pthread_mutex_lock(&lock);
  stopping = 1;
  pthread_cond_broadcast(&wake);
  pthread_mutex_unlock(&lock);
  for (int i = 0; i < worker_count; i++) pthread_join(workers[i], NULL);
  worker_count = 0;
  stopping = 0;
}

int peftjs_set_threads(int threads) {
  if (threads < 1) threads = 1;
  if (threads > PEFTJS_MAX_THREADS) threads = PEFTJS_MAX_THREADS;
  if (worker_count > 0) stop_workers();
  target_threads = 1;
  start_generation = generation;
  for (int i = 0; i < threads - 1; i++) {
    if (pthread_create(&workers[i], NULL, worker_main, (void *)(long)i) != 0) break;
    worker_count = i + 1;
  }
  target_threads = worker_count + 1;
  return target_threads;
}

int peftjs_get_threads(void) { return target_threads; }

/* Runs jobs[0..count) (jobs[0] on the caller), returns when all are done. */
static void run_all(int count) {
  pthread_mutex_lock(&lock);
  pending = count - 1;
  generation++;
  pthread_cond_broadcast(&wake);
  pthread_mutex_unlock(&lock);
  run_job(&jobs[0]);
  pthread_mutex_lock(&lock);
  while (pending > 0) pthread_cond_wait(&done, &lock);
  pthread_mutex_unlock(&lock);
}

void peftjs_gemm(const peftjs_gemm_args *g) {
  int threads = target_threads;
  if (threads <= 1 || (double)g->m * (double)g->n * (double)g->k < (double)PEFTJS_PARALLEL_MIN_WORK) {
    peftjs_gemm_single(g);
    return;
  }
  long mr = peftjs_micro_rows(), nr = peftjs_micro_cols();
  /* A store weight is dequantised while packed: splitting by columns shares that work out instead of repeating it. */
  int by_rows = g->bw != NULL ? g->n < (long)threads * nr * 4 : (g->m >= (long)threads * mr * 2 || g->m >= g->n);
  long total = by_rows ? g->m : g->n, unit = by_rows ? mr : nr;
  long units = (total + unit - 1) / unit;
  if (units < threads) threads = (int)units;
  for (int t = 0; t < threads; t++) {
    long begin = (units * t / threads) * unit, end = (units * (t + 1) / threads) * unit;
    if (end > total) end = total;
    peftjs_job *job = &jobs[t];
    job->kind = 0;
    job->gemm = *g;
    if (by_rows) {
      job->gemm.m = end - begin;
      job->gemm.a = g->a + begin * (g->trans_a ? 1 : g->lda);
      job->gemm.c = g->c + begin * g->ldc;
    } else {
      job->gemm.n = end - begin;
      if (g->bw != NULL) {
        if (g->trans_b) job->gemm.bw_row0 = g->bw_row0 + begin;
        else job->gemm.bw_col0 = g->bw_col0 + begin;
      } else {
        job->gemm.b = g->b + begin * (g->trans_b ? g->ldb : 1);
      }
      job->gemm.c = g->c + begin;
      if (g->bias != NULL && !g->bias_scalar) job->gemm.bias = g->bias + begin;
      if (g->prelu != NULL && !g->prelu_scalar) job->gemm.prelu = g->prelu + begin;
    }
  }
  for (int t = threads; t < target_threads; t++) { jobs[t].kind = 0; jobs[t].gemm.m = 0; }
  run_all(target_threads);
}

void peftjs_adam(const peftjs_adam_args *args) {
  int threads = target_threads;
  if (threads <= 1 || args->n < (1L << 16)) {
    peftjs_adam_range(args, 0, args->n);
    return;
  }
  long block = 16;
  long units = (args->n + block - 1) / block;
  for (int t = 0; t < threads; t++) {
    jobs[t].kind = 1;
    jobs[t].adam = args;
    jobs[t].begin = (units * t / threads) * block;
    jobs[t].end = (units * (t + 1) / threads) * block;
    if (jobs[t].end > args->n) jobs[t].end = args->n;
  }
  run_all(threads);
}
