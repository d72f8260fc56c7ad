/* applier.c: the apply thread: commits batch n into analytics while the run loop reads batch n + 1. */
#include "walpipe/applier.h"

#include "walpipe/clock.h"
#include "walpipe/mem.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * One mutex guards the hand-over fields; the condition variables wake the
 * thread (a job or quit) and the caller (a job done).  The sink and the
 * targets are touched only by whoever holds the job: the thread between
 * pickup and done, the caller otherwise.  The mutex hand-over orders
 * those accesses, so neither needs locks of its own.
 */
struct applier {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;  /* to the thread: job or quit */
	pthread_cond_t done_cv; /* to the caller: done */
	struct sink_pg *sink;
	struct sink_target *targets;
	size_t ntargets;
	/* Guarded by lock. */
	bool quit;
	bool pending;	  /* submitted, not picked up */
	bool running;	  /* picked up, not done */
	bool done;		  /* done, result not taken */
	bool lock_waiting;
	int64_t progress_ms; /* monotonic ms of the job's last step */
	struct batch *batch;
	struct checkpoint ckpt;
	struct applier_result result;
};

static double
elapsed_s(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double) (t1.tv_sec - t0->tv_sec) +
		   (double) (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Called by the sink between statements and COPY chunks, and between
 * tries for the checkpoint lock: the job is alive. */
static void
job_progress(void *arg)
{
	struct applier *a = arg;

	pthread_mutex_lock(&a->lock);
	a->progress_ms = clock_mono_ms();
	pthread_mutex_unlock(&a->lock);
}

/* Apply one job; SINK_BUSY (a backfill holds the checkpoint row) is
 * retried every 200 ms until it clears or the applier is told to quit. */
static void
run_job(struct applier *a, struct batch *b, const struct checkpoint *ckpt,
		struct applier_result *out)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(&out->stats, 0, sizeof(out->stats));
	for (;;) {
		bool quit;

		if (batch_count(b) == 0)
			out->res = sink_pg_write_checkpoint(a->sink, ckpt, out->err,
												sizeof(out->err));
		else
			out->res = sink_pg_apply(a->sink, b, a->targets, a->ntargets,
									 ckpt, job_progress, a, &out->stats,
									 out->err, sizeof(out->err));
		if (out->res != SINK_BUSY)
			break;
		pthread_mutex_lock(&a->lock);
		a->lock_waiting = true;
		a->progress_ms = clock_mono_ms();
		quit = a->quit;
		pthread_mutex_unlock(&a->lock);
		if (quit) {
			snprintf(out->err, sizeof(out->err),
					 "stopped while waiting for the checkpoint lock");
			out->res = SINK_RETRY;
			break;
		}
		nanosleep(&(struct timespec){0, 200 * 1000 * 1000}, NULL);
	}
	out->batch = b;
	out->ckpt = *ckpt;
	out->seconds = elapsed_s(&t0);
}

static void *
applier_main(void *arg)
{
	struct applier *a = arg;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		struct batch *b;
		struct checkpoint ckpt;
		struct applier_result r;

		while (!a->pending && !a->quit)
			pthread_cond_wait(&a->wake, &a->lock);
		if (!a->pending)
			break; /* quit with nothing to do */
		a->pending = false;
		a->running = true;
		a->progress_ms = clock_mono_ms();
		b = a->batch;
		ckpt = a->ckpt;
		pthread_mutex_unlock(&a->lock);

		run_job(a, b, &ckpt, &r);

		pthread_mutex_lock(&a->lock);
		a->result = r;
		a->running = false;
		a->lock_waiting = false;
		a->done = true;
		pthread_cond_broadcast(&a->done_cv);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

struct applier *
applier_new(struct sink_pg *sink, struct sink_target *t, size_t n)
{
	struct applier *a = wp_calloc(1, sizeof(*a));
	pthread_condattr_t ca;
	int rc;

	a->sink = sink;
	a->targets = t;
	a->ntargets = n;
	pthread_mutex_init(&a->lock, NULL);
	/* Timed waits on the monotonic clock: a wall-clock step must not
	 * stretch or cut a wait. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->done_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&a->wake, NULL);
	rc = pthread_create(&a->thread, NULL, applier_main, a);
	if (rc != 0) {
		fprintf(stderr, "walpipe: could not start the apply thread: %s\n",
				strerror(rc));
		abort();
	}
	return a;
}

void
applier_submit(struct applier *a, struct batch *b,
			   const struct checkpoint *ckpt)
{
	pthread_mutex_lock(&a->lock);
	if (a->pending || a->running || a->done) {
		/* A caller bug: two batches in flight could commit out of order. */
		fprintf(stderr, "walpipe: applier_submit while a job is in hand\n");
		abort();
	}
	a->batch = b;
	a->ckpt = *ckpt;
	a->pending = true;
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
}

bool
applier_lock_waiting(const struct applier *a)
{
	struct applier *m = (struct applier *) a;
	bool w;

	pthread_mutex_lock(&m->lock);
	w = m->lock_waiting;
	pthread_mutex_unlock(&m->lock);
	return w;
}

int64_t
applier_stalled_ms(const struct applier *a)
{
	struct applier *m = (struct applier *) a;
	int64_t ms = 0;

	pthread_mutex_lock(&m->lock);
	if (m->running)
		ms = clock_mono_ms() - m->progress_ms;
	pthread_mutex_unlock(&m->lock);
	return ms;
}

bool
applier_wait(struct applier *a, int timeout_ms, struct applier_result *out)
{
	bool got = false;

	pthread_mutex_lock(&a->lock);
	if (!a->done && timeout_ms > 0 && (a->pending || a->running)) {
		struct timespec until;

		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += timeout_ms / 1000;
		until.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!a->done) {
			if (pthread_cond_timedwait(&a->done_cv, &a->lock, &until) ==
				ETIMEDOUT)
				break;
		}
	}
	if (a->done) {
		*out = a->result;
		a->done = false;
		a->batch = NULL;
		got = true;
	}
	pthread_mutex_unlock(&a->lock);
	return got;
}

void
applier_free(struct applier *a)
{
	if (a == NULL)
		return;
	pthread_mutex_lock(&a->lock);
	a->quit = true;
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
	/* The thread ends only with nothing pending; a job done but never
	 * taken leaves its batch to us. */
	if (a->done)
		batch_free(a->result.batch);
	pthread_cond_destroy(&a->wake);
	pthread_cond_destroy(&a->done_cv);
	pthread_mutex_destroy(&a->lock);
	free(a);
}
