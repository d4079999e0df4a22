/* The worker pool behind Parallel.forEach (and so behind the split BLAS products).
 *
 * Workers spin for a short while after each job before they sleep, as OpenMP and OpenBLAS do: a
 * forward pass runs hundreds of parallel regions separated by microseconds of serial work, and
 * waking a sleeping thread costs tens of microseconds each time (measured: Gemma 3 270M decode
 * went from 25 to 20 tokens/s with libdispatch's sleeping workers). One job runs at a time; a
 * caller that finds the pool busy (tests run concurrently) runs its chunks itself. */
#include "ckernels.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

/* How long an idle worker spins before it sleeps. */
#define SPIN_NANOSECONDS 500000L

static pthread_mutex_t busy = PTHREAD_MUTEX_INITIALIZER;     /* one job at a time */
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static atomic_ulong generation;     /* bumped once per job */
static atomic_int sleeping;         /* workers waiting on `wake` */
static atomic_int checked_in;       /* workers done with the current job */
static atomic_long next_chunk;
static int worker_count;            /* started workers (only grows; guarded by `busy`) */
/* The current job: written by the caller while every worker is checked in. */
static isa_chunk_fn job_fn;
static void *job_ctx;
static long job_chunks;

static long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000000000L + t.tv_nsec;
}

static void run_chunks(void) {
    for (;;) {
        long c = atomic_fetch_add(&next_chunk, 1);
        if (c >= job_chunks) return;
        job_fn(job_ctx, c);
    }
}

/* `arg` is the generation before the worker's first job (read by the caller, so a worker that starts
   late still sees that job). */
static void *worker_main(void *arg) {
    isa_parallel_depth_add(1);   /* work done here never fans out again */
    unsigned long seen = (unsigned long)(uintptr_t)arg;
    for (;;) {
        unsigned long g = atomic_load(&generation);
        long start = 0;
        int spins = 0;
        while (g == seen) {
            cpu_relax();
            if (++spins % 64 == 0) {
                long t = now_ns();
                if (start == 0) start = t;
                else if (t - start > SPIN_NANOSECONDS) {
                    pthread_mutex_lock(&sleep_lock);
                    atomic_fetch_add(&sleeping, 1);
                    while ((g = atomic_load(&generation)) == seen) pthread_cond_wait(&wake, &sleep_lock);
                    atomic_fetch_sub(&sleeping, 1);
                    pthread_mutex_unlock(&sleep_lock);
                    break;
                }
            }
            g = atomic_load(&generation);
        }
        seen = g;
        run_chunks();
        atomic_fetch_add(&checked_in, 1);
    }
    return NULL;
}

void isa_pool_run(long chunks, int workers, isa_chunk_fn fn, void *ctx) {
    if (chunks <= 0) return;
    if (workers < 1 || chunks == 1 || pthread_mutex_trylock(&busy) != 0) {
        isa_parallel_depth_add(1);
        for (long c = 0; c < chunks; c++) fn(ctx, c);
        isa_parallel_depth_add(-1);
        return;
    }
    while (worker_count < workers) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker_main, (void *)(uintptr_t)atomic_load(&generation)) != 0) break;
        pthread_detach(t);
        worker_count++;
    }
    job_fn = fn; job_ctx = ctx; job_chunks = chunks;
    atomic_store(&checked_in, 0);
    atomic_store(&next_chunk, 0);
    atomic_fetch_add(&generation, 1);
    if (atomic_load(&sleeping) > 0) {
        pthread_mutex_lock(&sleep_lock);
        pthread_cond_broadcast(&wake);
        pthread_mutex_unlock(&sleep_lock);
    }
    isa_parallel_depth_add(1);
    run_chunks();
    isa_parallel_depth_add(-1);
    while (atomic_load(&checked_in) < worker_count) cpu_relax();
    pthread_mutex_unlock(&busy);
}
