/* snapshot.c: copy the existing rows of mapped tables, read in an exported snapshot, through the mappings. */
#include "walpipe/snapshot.h"
#include "walpipe/clock.h"

#include "walpipe/batch.h"
#include "walpipe/buf.h"
#include "walpipe/catalog.h"
#include "walpipe/ident.h"
#include "walpipe/log.h"
#include "walpipe/mem.h"
#include "walpipe/notify.h"
#include "walpipe/pgconn.h"
#include "walpipe/streampos.h"
#include "walpipe/wal2json.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum table_state { TABLE_PENDING, TABLE_COPYING, TABLE_DONE };

/* Progress of one table, shared between its reader and the main thread. */
struct table {
	const char *name; /* "schema.table", borrowed from the job */
	enum table_state state;
	uint64_t rows;
	int64_t estimate; /* pg_class.reltuples, < 0: unknown */
	int64_t started_ms, finished_ms;
};

/*
 * Readers are threads: each needs its own source connection (inside the
 * imported snapshot) and analytics connection, and a blocking COPY on
 * each.  They share only this, behind the mutex.
 */
struct shared {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct snapshot_job *job;
	lsn_t lsn;	  /* the snapshot's consistent point (the export goes) */
	struct table *t;
	size_t nt;
	/* waits[i * nt + j]: table i is copied only after table j is done,
	 * since a target of i references one of j by a foreign key (a
	 * child's rows would fail their key).  Set by the first reader that
	 * has read the keys (deps_ready). */
	bool *waits;
	bool deps_ready;
	int imported; /* readers past SET TRANSACTION SNAPSHOT (or failed) */
	int running;
	bool abort;	  /* stop or another reader failed */
	enum snapshot_result res;
	char err[2048];
};

struct reader {
	struct shared *sh;
	pthread_t thread;
	PGconn *src;
	struct sink_pg *sink, *prog;
	struct sink_target *targets;
	size_t ntargets;
	struct w2j_decoder *dec;
	struct batch *batch;
	struct sink_stats stats;
};

/* Record the first failure; every reader stops at its next row. */
static void
reader_fail(struct reader *w, enum snapshot_result res, const char *what,
			const char *detail)
{
	struct shared *sh = w->sh;
	size_t n;

	pthread_mutex_lock(&sh->lock);
	if (sh->res == SNAPSHOT_OK || sh->res == SNAPSHOT_STOPPED) {
		sh->res = res;
		snprintf(sh->err, sizeof(sh->err), "%s%s%s", what ? what : "",
				 what && detail ? ": " : "", detail ? detail : "");
		n = strlen(sh->err);
		while (n > 0 && (sh->err[n - 1] == '\n' || sh->err[n - 1] == ' '))
			sh->err[--n] = '\0';
	}
	sh->abort = true;
	pthread_cond_broadcast(&sh->cond);
	pthread_mutex_unlock(&sh->lock);
}

static bool
aborted(struct shared *sh)
{
	bool a;

	pthread_mutex_lock(&sh->lock);
	a = sh->abort;
	pthread_mutex_unlock(&sh->lock);
	return a;
}

static enum snapshot_result
of_sink(enum sink_result r)
{
	return r == SINK_RETRY || r == SINK_BUSY ? SNAPSHOT_RETRY : SNAPSHOT_FATAL;
}

/* Connect and import the snapshot: the first statements of the
 * transaction, which must be REPEATABLE READ. */
static bool
reader_import(struct reader *w)
{
	struct snapshot_job *job = w->sh->job;
	char q[160];
	PGresult *r;
	bool ok;

	w->src = pgconn_connect(job->rs->source_conninfo, "walpipe snapshot", false);
	if (PQstatus(w->src) != CONNECTION_OK) {
		reader_fail(w, SNAPSHOT_RETRY,
					"could not connect to the source server",
					PQerrorMessage(w->src));
		return false;
	}
	snprintf(q, sizeof(q),
			 "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; "
			 "SET TRANSACTION SNAPSHOT '%s'",
			 repl_export_snapshot(job->export));
	r = PQexec(w->src, q);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (!ok)
		reader_fail(w, SNAPSHOT_RETRY, "could not import the snapshot",
					PQerrorMessage(w->src));
	return ok;
}

/*
 * The planner's row estimate, or -1.  From EXPLAIN rather than
 * pg_class.reltuples, which is -1 until the table is first vacuumed or
 * analyzed; the planner then estimates from the table's size.
 */
int64_t
snapshot_table_estimate(PGconn *src, const struct sink_target *t)
{
	struct buf q = BUF_INIT;
	PGresult *r;
	int64_t est = -1;
	const char *rows;

	buf_append_str(&q, t->partitioned ? "EXPLAIN SELECT 1 FROM "
									  : "EXPLAIN SELECT 1 FROM ONLY ");
	map_quote_ident(&q, t->rule->from_schema);
	buf_append_char(&q, '.');
	map_quote_ident(&q, t->rule->from_table);
	r = PQexec(src, q.data);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 &&
		(rows = strstr(PQgetvalue(r, 0, 0), " rows=")) != NULL)
		est = strtoll(rows + 6, NULL, 10);
	PQclear(r);
	buf_free(&q);
	return est;
}

static bool
reader_flush(struct reader *w, struct table *tb, uint64_t rows)
{
	struct shared *sh = w->sh;
	char err[2048];
	enum sink_result sr;

	if (batch_count(w->batch) > 0) {
		sr = sink_pg_snapshot_apply(w->sink, w->batch, w->targets,
									w->ntargets, &w->stats, err, sizeof(err));
		batch_reset(w->batch);
		if (sr != SINK_OK) {
			reader_fail(w, of_sink(sr), NULL, err);
			return false;
		}
	}
	pthread_mutex_lock(&sh->lock);
	tb->rows = rows;
	pthread_mutex_unlock(&sh->lock);
	return true;
}

/* The target that reads tb (tb->name is ident_qualified's text, as in
 * run's mapped_tables), or NULL with the reader failed. */
static const struct sink_target *
reader_target_of(struct reader *w, const struct table *tb)
{
	for (size_t i = 0; i < w->ntargets; i++) {
		char *name = ident_qualified(w->targets[i].rule->from_schema,
									 w->targets[i].rule->from_table);
		bool same = strcmp(name, tb->name) == 0;

		free(name);
		if (same)
			return &w->targets[i];
	}
	reader_fail(w, SNAPSHOT_FATAL, "no mapping reads source table", tb->name);
	return NULL;
}

/* Record tb's estimate and start, and open the analytics transaction the
 * copy goes into when the job brings none. */
static bool
reader_table_begin(struct reader *w, struct table *tb,
				   const struct sink_target *t)
{
	struct shared *sh = w->sh;
	struct snapshot_job *job = sh->job;
	char err[2048];
	enum sink_result sr;

	pthread_mutex_lock(&sh->lock);
	tb->estimate = snapshot_table_estimate(w->src, t);
	pthread_mutex_unlock(&sh->lock);
	sr = sink_pg_snapshot_progress(w->prog, tb->name, job->kind, true,
								   sh->lsn, 0, tb->estimate, err, sizeof(err));
	if (sr == SINK_OK)
		sr = sink_pg_snapshot_begin(w->sink, err, sizeof(err));
	if (sr != SINK_OK) {
		reader_fail(w, of_sink(sr), NULL, err);
		return false;
	}
	return true;
}

/* Start the COPY of t's rows out of the snapshot. */
static bool
reader_copy_start(struct reader *w, const struct sink_target *t)
{
	char lsn_text[LSN_STRLEN];
	char *q = map_snapshot_query(t->rule->from_schema, t->rule->from_table,
								 t->partitioned, t->srccols, t->nsrc,
								 lsn_format(w->sh->lsn, lsn_text));
	PGresult *r = PQexec(w->src, q);
	bool ok = PQresultStatus(r) == PGRES_COPY_OUT;

	free(q);
	if (!ok)
		reader_fail(w, SNAPSHOT_FATAL, "could not read the snapshot rows",
					PQerrorMessage(w->src));
	PQclear(r);
	return ok;
}

/* Add one COPY row to the batch, at its position in the copy. */
static bool
reader_add_row(struct reader *w, struct streampos *pos, char *line, int n)
{
	struct w2j_change c;
	char err[2048];
	size_t len = map_snapshot_unescape(line, (size_t) n - 1);

	if (!w2j_decode(w->dec, line, len, &c, err, sizeof(err))) {
		reader_fail(w, SNAPSHOT_FATAL, "could not decode a snapshot row", err);
		return false;
	}
	streampos_change(pos);
	if (!batch_add(w->batch, &c, line, len, pos->txn_end, pos->txn_pos, NULL,
				   err, sizeof(err))) {
		reader_fail(w, SNAPSHOT_FATAL, NULL, err);
		return false;
	}
	batch_mark_snapshot(w->batch, w->sh->job->op);
	return true;
}

/*
 * Read the COPY's rows into batches, applying each full one; *rows: how
 * many were read.  The copy's rows are the changes of one transaction
 * ending at the snapshot's point (streampos_copy_start).
 */
static bool
reader_copy_rows(struct reader *w, struct table *tb, uint64_t *rows)
{
	struct shared *sh = w->sh;
	struct snapshot_job *job = sh->job;
	struct streampos pos;
	int64_t last_prog = clock_mono_ms();
	char err[2048], *line = NULL;
	int n;

	streampos_copy_start(&pos, sh->lsn);
	while ((n = PQgetCopyData(w->src, &line, 0)) > 0) {
		bool ok = reader_add_row(w, &pos, line, n);

		PQfreemem(line);
		if (!ok)
			return false;
		*rows = pos.txn_pos;
		if (batch_count(w->batch) < job->rs->max_changes &&
			batch_bytes(w->batch) < job->rs->max_bytes)
			continue;
		if (!reader_flush(w, tb, *rows) || aborted(sh))
			return false;
		if (clock_mono_ms() - last_prog >= 1000) {
			/* Progress is best effort: a failure shows in the data
			 * connection soon enough. */
			sink_pg_snapshot_progress(w->prog, tb->name, job->kind, false,
									  sh->lsn, *rows, tb->estimate, err,
									  sizeof(err));
			last_prog = clock_mono_ms();
		}
	}
	if (n == -2) {
		reader_fail(w, SNAPSHOT_RETRY, "could not read the snapshot rows",
					PQerrorMessage(w->src));
		return false;
	}
	return true;
}

/* The COPY's end: its result, then none. */
static bool
reader_copy_finish(struct reader *w)
{
	PGresult *r = PQgetResult(w->src);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;

	if (!ok)
		reader_fail(w, SNAPSHOT_FATAL, "could not read the snapshot rows",
					PQerrorMessage(w->src));
	PQclear(r);
	if (!ok)
		return false;
	while ((r = PQgetResult(w->src)) != NULL)
		PQclear(r);
	return true;
}

/* Commit tb's copy, marked done at the snapshot's point, and wake the
 * tables waiting for it. */
static bool
reader_table_done(struct reader *w, struct table *tb, uint64_t rows)
{
	struct shared *sh = w->sh;
	char err[2048];
	enum sink_result sr;

	if (!reader_flush(w, tb, rows) || aborted(sh))
		return false;
	sr = sink_pg_snapshot_finish(w->sink, tb->name, sh->job->kind, sh->lsn,
								 rows, err, sizeof(err));
	if (sr != SINK_OK) {
		reader_fail(w, of_sink(sr), NULL, err);
		return false;
	}
	pthread_mutex_lock(&sh->lock);
	tb->state = TABLE_DONE;
	tb->finished_ms = clock_mono_ms();
	pthread_cond_broadcast(&sh->cond); /* tables waiting for this one */
	pthread_mutex_unlock(&sh->lock);
	return true;
}

/* Copy one table: COPY out of the snapshot, batches into analytics. */
static bool
reader_copy(struct reader *w, struct table *tb)
{
	const struct sink_target *t = reader_target_of(w, tb);
	uint64_t rows = 0;

	return t && reader_table_begin(w, tb, t) && reader_copy_start(w, t) &&
		   reader_copy_rows(w, tb, &rows) && reader_copy_finish(w) &&
		   reader_table_done(w, tb, rows);
}

/* Whether target t reads source table name (ident_qualified's text). */
static bool
target_reads(const struct sink_target *t, const char *name)
{
	char *q = ident_qualified(t->rule->from_schema, t->rule->from_table);
	bool same = strcmp(q, name) == 0;

	free(q);
	return same;
}

/* Fill sh->waits from the foreign keys between the targets (sink_pg
 * read them in sink_pg_prepare).  Called with the lock held. */
static void
table_waits(struct shared *sh, const struct sink_pg *sink,
			const struct sink_target *t, size_t nt)
{
	for (size_t x = 0; x < nt; x++)
		for (size_t y = 0; y < nt; y++) {
			if (!sink_pg_target_references(sink, x, y))
				continue;
			for (size_t i = 0; i < sh->nt; i++)
				for (size_t j = 0; j < sh->nt; j++)
					if (i != j && target_reads(&t[x], sh->t[i].name) &&
						target_reads(&t[y], sh->t[j].name))
						sh->waits[i * sh->nt + j] = true;
		}
}

/*
 * The next table to copy, marked copying: the first pending one whose
 * parents (sh->waits) are done, waiting while every pending one waits for
 * a table being copied.  NULL when none is left or on abort.  Called with
 * the lock held.
 */
static struct table *
next_table(struct shared *sh)
{
	for (;;) {
		bool pending = false;

		if (sh->abort)
			return NULL;
		for (size_t i = 0; sh->deps_ready && i < sh->nt; i++) {
			bool ready = true;

			if (sh->t[i].state != TABLE_PENDING)
				continue;
			pending = true;
			for (size_t j = 0; j < sh->nt && ready; j++)
				ready = !sh->waits[i * sh->nt + j] ||
						sh->t[j].state == TABLE_DONE;
			if (ready) {
				sh->t[i].state = TABLE_COPYING;
				sh->t[i].started_ms = clock_mono_ms();
				return &sh->t[i];
			}
		}
		if (sh->deps_ready && !pending)
			return NULL;
		pthread_cond_wait(&sh->cond, &sh->lock);
	}
}

static void *
reader_main(void *arg)
{
	struct reader *w = arg;
	struct shared *sh = w->sh;
	struct snapshot_job *job = sh->job;
	struct sink_pg_config sc;
	enum sink_result sr;
	char err[2048];
	bool ok = reader_import(w);

	pthread_mutex_lock(&sh->lock);
	sh->imported++;
	pthread_cond_broadcast(&sh->cond);
	pthread_mutex_unlock(&sh->lock);
	if (!ok)
		goto done;
	run_sink_config(job->rs, &sc);
	w->sink = sink_pg_open(&sc, &sr, err, sizeof(err));
	if (w->sink)
		w->prog = sink_pg_open(&sc, &sr, err, sizeof(err));
	if (w->prog == NULL) {
		reader_fail(w, of_sink(sr), NULL, err);
		goto done;
	}
	w->targets = catalog_plan_targets(w->src, sink_pg_conn(w->sink),
									  job->rs->rules, job->rs->nrules,
									  job->rs->source_name, &w->ntargets, err,
									  sizeof(err));
	if (w->targets == NULL) {
		reader_fail(w, SNAPSHOT_FATAL, NULL, err);
		goto done;
	}
	sr = sink_pg_prepare(w->sink, w->targets, w->ntargets, err, sizeof(err));
	if (sr != SINK_OK) {
		reader_fail(w, of_sink(sr), NULL, err);
		goto done;
	}
	w->dec = w2j_decoder_new();
	w->batch = batch_new(job->rs->max_bytes + (1 << 20));
	pthread_mutex_lock(&sh->lock);
	if (!sh->deps_ready) {
		table_waits(sh, w->sink, w->targets, w->ntargets);
		sh->deps_ready = true;
		pthread_cond_broadcast(&sh->cond);
	}
	pthread_mutex_unlock(&sh->lock);
	for (;;) {
		struct table *tb;

		pthread_mutex_lock(&sh->lock);
		tb = next_table(sh);
		pthread_mutex_unlock(&sh->lock);
		if (tb == NULL || !reader_copy(w, tb))
			break;
	}
done:
	/* Whatever is not committed is rolled back: a half-copied table is
	 * never done, and is copied again. */
	if (w->sink)
		sink_pg_snapshot_abort(w->sink);
	sink_pg_close(w->sink);
	sink_pg_close(w->prog);
	catalog_free_targets(w->targets, w->ntargets);
	w2j_decoder_free(w->dec);
	batch_free(w->batch);
	PQfinish(w->src);
	pthread_mutex_lock(&sh->lock);
	sh->running--;
	pthread_cond_broadcast(&sh->cond);
	pthread_mutex_unlock(&sh->lock);
	return NULL;
}

/* "rows/estimate (pct), rate, time left" for the log. */
static void
describe(const struct table *tb, int64_t now, char *out, size_t outlen)
{
	double secs = (double) ((tb->finished_ms ? tb->finished_ms : now) -
							tb->started_ms) /
				  1000.0;
	double rate = secs > 0 ? (double) tb->rows / secs : 0;

	if (tb->estimate > 0 && (uint64_t) tb->estimate > tb->rows && rate > 0)
		snprintf(out, outlen,
				 "%llu of about %lld rows (%.0f%%), %.0f rows/s, about %.0f s "
				 "left",
				 (unsigned long long) tb->rows, (long long) tb->estimate,
				 100.0 * (double) tb->rows / (double) tb->estimate, rate,
				 (double) ((uint64_t) tb->estimate - tb->rows) / rate);
	else
		snprintf(out, outlen, "%llu rows, %.0f rows/s",
				 (unsigned long long) tb->rows, rate);
}

/* Set sh up for job: every table pending. */
static void
shared_init(struct shared *sh, struct snapshot_job *job)
{
	memset(sh, 0, sizeof(*sh));
	pthread_mutex_init(&sh->lock, NULL);
	pthread_cond_init(&sh->cond, NULL);
	sh->job = job;
	sh->lsn = repl_export_lsn(job->export);
	sh->nt = job->ntables;
	sh->t = wp_calloc(sh->nt, sizeof(*sh->t));
	sh->waits = wp_calloc(sh->nt * sh->nt, sizeof(bool));
	for (size_t i = 0; i < sh->nt; i++) {
		sh->t[i].name = job->tables[i];
		sh->t[i].estimate = -1;
	}
}

static void
shared_free(struct shared *sh)
{
	free(sh->t);
	free(sh->waits);
	pthread_cond_destroy(&sh->cond);
	pthread_mutex_destroy(&sh->lock);
}

/* Start n reader threads; one that cannot start counts as imported and
 * finished, and fails the job. */
static void
readers_start(struct shared *sh, struct reader *readers, int n)
{
	sigset_t block, old;

	sh->running = n;
	/* Readers inherit a mask without the stop and reload signals: they
	 * go to the main thread, which sets the abort flag. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (int i = 0; i < n; i++) {
		readers[i].sh = sh;
		if (pthread_create(&readers[i].thread, NULL, reader_main,
						   &readers[i]) != 0) {
			/* Count it as imported and finished: it never ran. */
			pthread_mutex_lock(&sh->lock);
			sh->imported++;
			sh->running--;
			sh->abort = true;
			sh->res = SNAPSHOT_FATAL;
			snprintf(sh->err, sizeof(sh->err),
					 "could not start a reader thread");
			pthread_mutex_unlock(&sh->lock);
			readers[i].thread = pthread_self();
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Each table's progress into the metrics, and every 10 s (*last_log) the
 * ones being copied into the log.  Called with the lock held. */
static void
shared_report_progress(struct shared *sh, int64_t *last_log)
{
	int64_t now = clock_mono_ms();

	for (size_t i = 0; i < sh->nt; i++)
		if (sh->t[i].state != TABLE_PENDING)
			metrics_snapshot(sh->job->metrics, sh->t[i].name, sh->t[i].rows,
							 sh->t[i].estimate, sh->t[i].state == TABLE_DONE);
	if (now - *last_log < 10000)
		return;
	for (size_t i = 0; i < sh->nt; i++) {
		char d[200];

		if (sh->t[i].state != TABLE_COPYING)
			continue;
		describe(&sh->t[i], now, d, sizeof(d));
		wp_log(LOG_INFO, "snapshot: %s: %s", sh->t[i].name, d);
	}
	*last_log = now;
}

/*
 * Until every reader has finished, five times a second: close the export
 * once all n readers hold the snapshot (*released), pass a stop on to
 * the readers, report progress, and pet the watchdog.
 */
static void
readers_watch(struct shared *sh, int n, bool *released)
{
	struct snapshot_job *job = sh->job;
	int64_t last_log = clock_mono_ms();

	pthread_mutex_lock(&sh->lock);
	while (sh->running > 0) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 200 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&sh->cond, &sh->lock, &until);
		if (!*released && sh->imported >= n) {
			/* Every reader holds the snapshot now: the exporting
			 * connection may go. */
			repl_export_close(job->export);
			job->export = NULL;
			*released = true;
		}
		if (job->stop && *job->stop && !sh->abort) {
			sh->abort = true;
			if (sh->res == SNAPSHOT_OK)
				sh->res = SNAPSHOT_STOPPED;
		}
		shared_report_progress(sh, &last_log);
		pthread_mutex_unlock(&sh->lock);
		notify_watchdog();
		pthread_mutex_lock(&sh->lock);
	}
	pthread_mutex_unlock(&sh->lock);
}

/* How the job ended, into the log; t0: when it started. */
static void
shared_report_end(const struct shared *sh, int64_t t0)
{
	uint64_t total = 0;

	if (sh->res == SNAPSHOT_STOPPED) {
		wp_log(LOG_NOTICE, "snapshot stopped; tables not done are copied "
						   "again on the next start");
		return;
	}
	if (sh->res != SNAPSHOT_OK) {
		wp_log(LOG_ERROR, "snapshot failed: %s", sh->err);
		return;
	}
	for (size_t i = 0; i < sh->nt; i++) {
		char d[200];

		describe(&sh->t[i], clock_mono_ms(), d, sizeof(d));
		wp_log(LOG_INFO, "snapshot: %s: copied %s", sh->t[i].name, d);
		total += sh->t[i].rows;
	}
	wp_log(LOG_NOTICE,
		   "snapshot (%s) done: %llu rows of %zu table(s) in %.1f s",
		   sh->job->kind, (unsigned long long) total, sh->nt,
		   (double) (clock_mono_ms() - t0) / 1000.0);
}

enum snapshot_result
snapshot_run(struct snapshot_job *job)
{
	struct shared sh;
	struct reader *readers;
	int nreaders = job->workers < 1 ? 1 : job->workers;
	int64_t t0 = clock_mono_ms();
	bool released = false;
	char l1[LSN_STRLEN];
	enum snapshot_result res;

	if ((size_t) nreaders > job->ntables)
		nreaders = (int) job->ntables;
	if (nreaders == 0) {
		repl_export_close(job->export);
		job->export = NULL;
		return SNAPSHOT_OK;
	}
	shared_init(&sh, job);
	readers = wp_calloc((size_t) nreaders, sizeof(*readers));
	wp_log(LOG_INFO,
		   "snapshot (%s) of %zu table(s) at %s with %d reader(s)", job->kind,
		   job->ntables, lsn_format(repl_export_lsn(job->export), l1),
		   nreaders);
	readers_start(&sh, readers, nreaders);
	readers_watch(&sh, nreaders, &released);
	for (int i = 0; i < nreaders; i++)
		if (!pthread_equal(readers[i].thread, pthread_self()))
			pthread_join(readers[i].thread, NULL);
	if (!released) {
		repl_export_close(job->export);
		job->export = NULL;
	}
	shared_report_end(&sh, t0);
	res = sh.res;
	free(readers);
	shared_free(&sh);
	return res;
}
