/* run_open.c: a session before streaming: sinks, mappings against the source catalog, initial snapshot, stream start. */
#include "run_int.h"

#include "walpipe/clock.h"
#include "walpipe/ident.h"
#include "walpipe/log.h"
#include "walpipe/mem.h"
#include "walpipe/metrics.h"
#include "walpipe/notify.h"
#include "walpipe/pgconn.h"
#include "walpipe/posfile.h"
#include "walpipe/snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * The route cache, when a mapping reads a partitioned table or
 * source.tables lists one: its partitions' changes are its own (route.h).
 * Each partition's replica identity is checked here; partitions created
 * later, when their first change arrives.  Without any, no route: the
 * stream is as wal2json's filter of source.tables makes it.  conn is kept
 * (plan_conn) when there is a route.
 */
static enum session_end
session_plan_routes(struct session *s, PGconn *conn)
{
	char err[1024];
	int r;

	s->parts.route = catalog_route_new(conn, s->targets, s->ntargets,
									   s->rs->tables, &s->parts.all_of_schemas,
									   &s->parts.nall_of_schemas, err,
									   sizeof(err));
	if (s->parts.route == NULL) {
		wp_log(LOG_ERROR, "%s", err);
		return SESSION_FATAL;
	}
	/* Mirrors keep the route: a table created later that matches one
	 * must end the session (session_mirror_new), not be dropped. */
	if (route_root(s->parts.route, 0) == NULL && s->rs->nmirrors == 0) {
		route_free(s->parts.route);
		s->parts.route = NULL;
		return SESSION_OK;
	}
	/* What session_check_partitions compares with; a partition made in
	 * another schema meanwhile: read the catalog again. */
	r = catalog_partition_watch(conn, s->parts.route, s->parts.all_of_schemas,
								s->parts.nall_of_schemas, &s->parts.part_sig,
								err, sizeof(err));
	if (r != 0)
		wp_log(r < 0 ? LOG_WARNING : LOG_NOTICE, "%s", err);
	return r == 0 ? SESSION_OK : r < 0 ? SESSION_RETRY : SESSION_REPLAN;
}

/*
 * A plain connection to the source for the plans' catalog: NULL, logged,
 * when it fails (the session is retried).
 */
static PGconn *
session_connect_source(struct session *s)
{
	PGconn *conn = pgconn_connect(s->rs->source_conninfo, "walpipe", false);

	if (PQstatus(conn) != CONNECTION_OK) {
		wp_log(LOG_ERROR, "could not connect to the source server: %s",
			   PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* Compile every mapping against the source catalog; note catalog_lsn. */
static enum session_end
session_plan(struct session *s)
{
	PGconn *conn = session_connect_source(s);
	enum session_end e = SESSION_OK;
	struct xidset replan = {0};
	char err[1024];

	if (conn == NULL)
		return SESSION_RETRY;
	/* The change that ended the last session must be in the catalog read
	 * (session_catalog_sees): its transaction may not show yet. */
	xidset_add(&replan, s->replan_xid);
	if (catalog_wait_visible(conn, &replan, 10000, err, sizeof(err)) <= 0) {
		wp_log(LOG_WARNING, "%s", err);
		xidset_free(&replan);
		PQfinish(conn);
		return SESSION_RETRY;
	}
	xidset_free(&replan);
	/*
	 * First the WAL position, then the catalog: a change written below
	 * this position is older than the catalog read next.  On a standby,
	 * what it has replayed.
	 */
	xidsnap_free(&s->catalog_snap);
	if (!repl_wal_position(conn, &s->catalog_lsn, err, sizeof(err)) ||
		!catalog_snapshot(conn, &s->catalog_snap, err, sizeof(err))) {
		wp_log(LOG_ERROR, "%s", err);
		PQfinish(conn);
		return SESSION_RETRY;
	}
	e = session_mirror_expand(s, conn);
	if (e != SESSION_OK) {
		PQfinish(conn);
		return e;
	}
	s->targets = catalog_plan_targets(conn, sink_pg_conn(s->sink),
									  s->rs->rules, s->rs->nrules,
									  s->rs->source_name, &s->ntargets, err,
									  sizeof(err));
	if (s->targets == NULL) {
		wp_log(LOG_ERROR, "%s", err);
		PQfinish(conn);
		return SESSION_FATAL;
	}
	e = session_plan_routes(s, conn);
	if (e == SESSION_OK) {
		size_t nt, nr;
		char **mt = run_mapped_tables(s->rs, &nt);
		char **roots = catalog_route_roots(s->parts.route, &nr);
		char *un = catalog_unlisted_partitions(conn, mt, nt, roots, nr);
		const struct map_rule **rules =
			wp_calloc(s->rs->nrules + 1, sizeof(*rules));

		if (un)
			wp_log(LOG_WARNING,
				   "partitions %s belong to the partitioned tables of mapped "
				   "partitions but are not mapped: none of their changes "
				   "reaches walpipe\nMap them too (and list them in "
				   "source.tables), or their rows are missing from the "
				   "targets.",
				   un);
		free(un);
		for (size_t i = 0; i < s->rs->nrules; i++)
			rules[i] = &s->rs->rules[i];
		free(s->special);
		s->special = catalog_special_columns(conn, rules, s->rs->nrules);
		free(rules);
		run_tables_free(mt, nt);
		run_tables_free(roots, nr);
	}
	if (s->parts.route)
		s->parts.plan_conn = conn; /* for the partitions met while streaming */
	else
		PQfinish(conn);
	return e;
}

/*
 * Kafka alone has no mappings, but source.tables may list partitioned
 * tables: their partitions' changes are theirs (session_plan_routes).
 */
static enum session_end
session_plan_kafka(struct session *s)
{
	PGconn *conn = session_connect_source(s);
	enum session_end e;

	if (conn == NULL)
		return SESSION_RETRY;
	e = session_plan_routes(s, conn);
	if (s->parts.route)
		s->parts.plan_conn = conn;
	else
		PQfinish(conn);
	return e;
}

/* The source tables the mappings read, each once, in ident_qualified's
 * text (public.users, public."User"): walpipe.snapshot_tables keeps them
 * so, and sink_pg reads them back with parse_ident. */
char **
run_mapped_tables(const struct run_settings *rs, size_t *n)
{
	char **t = wp_calloc(rs->nrules ? rs->nrules : 1, sizeof(char *));

	*n = 0;
	for (size_t i = 0; i < rs->nrules; i++) {
		char *q = ident_qualified(rs->rules[i].from_schema,
								  rs->rules[i].from_table);
		bool dup = false;

		for (size_t j = 0; j < *n; j++)
			dup |= strcmp(t[j], q) == 0;
		if (dup)
			free(q);
		else
			t[(*n)++] = q;
	}
	return t;
}

void
run_tables_free(char **t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(t[i]);
	free(t);
}

/*
 * The initial snapshot, before streaming.  On a source's first start (no
 * checkpoint) every mapped table is registered; any table not done yet
 * is copied now:
 *  - first start, no slot: create the slot with an exported snapshot and
 *    write the checkpoint at its consistent point C before copying, so
 *    the stream starts exactly after the snapshot;
 *  - otherwise (a restart after a crash mid-snapshot, or a slot made by
 *    someone else): the slot's own snapshot is gone.  Tables not done are
 *    read in the exported snapshot of a temporary slot at P >= C, and the
 *    sink then skips their changes from transactions ending at or before
 *    P (the copy holds those), while every other table streams from C.
 */
/* Register every mapped table on a first start; the tables not done yet
 * in *todo (run_tables_free). */
static enum session_end
session_snapshot_todo(struct session *s, char ***todo, size_t *ntodo)
{
	enum sink_result sr = SINK_OK;
	char **all;
	size_t nall;
	char err[2048];

	all = run_mapped_tables(s->rs, &nall);
	if (!s->ckpt.exists)
		sr = sink_pg_snapshot_register(s->sink, all, nall, "initial", err,
									   sizeof(err));
	run_tables_free(all, nall);
	if (sr == SINK_OK)
		sr = sink_pg_snapshot_todo(s->sink, todo, ntodo, err, sizeof(err));
	if (sr != SINK_OK) {
		wp_log(LOG_ERROR, "%s", err);
		return sr == SINK_RETRY ? SESSION_RETRY : SESSION_FATAL;
	}
	return SESSION_OK;
}

/*
 * The exported snapshot to copy in (*ex), and its *kind: the slot's own
 * on a first start without a slot (the checkpoint written at its
 * consistent point), else a temporary slot's.  *ex stays NULL with
 * SESSION_OK when there is no slot and walpipe may not create one
 * (repl_open then says the slot is missing).
 */
static enum session_end
session_snapshot_export(struct session *s, struct repl_export **ex,
						const char **kind)
{
	const struct run_settings *rs = s->rs;
	enum repl_result rr;
	char err[2048], name[64], l1[LSN_STRLEN];
	int exists = repl_slot_exists(rs->source_conninfo, rs->slot, err,
								  sizeof(err));
	bool first = !s->ckpt.exists && exists == 0;

	*ex = NULL;
	*kind = "initial";
	if (exists < 0) {
		wp_log(LOG_WARNING, "%s", err);
		return SESSION_RETRY;
	}
	if (first && !rs->create_slot)
		return SESSION_OK;
	if (first) {
		*ex = repl_export_open(rs->source_conninfo, rs->slot, rs->pgoutput,
							   false, &rr, err,
							   sizeof(err));
	} else {
		*kind = s->ckpt.exists ? "resume" : "initial";
		snprintf(name, sizeof(name), "walpipe_snapshot_%ld",
				 (long) getpid());
		*ex = repl_export_open(rs->source_conninfo, name, rs->pgoutput,
							   true, &rr, err,
							   sizeof(err));
	}
	if (*ex == NULL) {
		wp_log(rr == REPL_RETRY ? LOG_WARNING : LOG_ERROR, "%s", err);
		return rr == REPL_RETRY ? SESSION_RETRY : SESSION_FATAL;
	}
	if (!first)
		return SESSION_OK;
	wp_log(LOG_NOTICE,
		   "created replication slot \"%s\" at %s with an exported "
		   "snapshot",
		   rs->slot, lsn_format(repl_export_lsn(*ex), l1));
	s->ckpt.lsn = repl_export_lsn(*ex);
	if (sink_pg_write_checkpoint(s->sink, &s->ckpt, err, sizeof(err)) !=
		SINK_OK) {
		wp_log(LOG_ERROR, "%s", err);
		repl_export_close(*ex);
		*ex = NULL;
		return SESSION_RETRY;
	}
	s->ckpt.exists = true;
	return SESSION_OK;
}

/*
 * The initial snapshot for Kafka (issue 20, item 1): before the copy
 * hands ex to its readers, import the same snapshot on a connection of
 * its own and keep its transaction open, so that once the Kafka sink is
 * open each table's rows go out as read events (op r) at the slot's
 * consistent point, followed by the stream from exactly there: no gap,
 * no overlap.  Only the tables of todo that go to Kafka.
 */
static enum session_end
session_kafka_snapshot_hold(struct session *s, struct repl_export *ex,
							char *const *todo, size_t ntodo)
{
	char err[2048], *lit;
	struct buf q = BUF_INIT;
	enum pgconn_outcome o;

	s->kafka_snap = pgconn_connect(s->rs->source_conninfo,
								   "walpipe kafka snapshot", false);
	if (PQstatus(s->kafka_snap) != CONNECTION_OK) {
		pgconn_error(err, sizeof(err),
					 "could not connect to the source for the Kafka "
					 "snapshot",
					 s->kafka_snap, NULL);
		wp_log(LOG_WARNING, "%s", err);
		PQfinish(s->kafka_snap);
		s->kafka_snap = NULL;
		return SESSION_RETRY;
	}
	lit = pgconn_quote_literal(s->kafka_snap, repl_export_snapshot(ex));
	buf_appendf(&q, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "
					"SET TRANSACTION SNAPSHOT %s",
				lit);
	free(lit);
	o = pgconn_exec(s->kafka_snap, q.data,
					"could not import the snapshot for Kafka", NULL, err,
					sizeof(err));
	buf_free(&q);
	if (o != PGCONN_OK) {
		wp_log(o == PGCONN_FATAL ? LOG_ERROR : LOG_WARNING, "%s", err);
		PQfinish(s->kafka_snap);
		s->kafka_snap = NULL;
		return o == PGCONN_FATAL ? SESSION_FATAL : SESSION_RETRY;
	}
	s->kafka_snap_lsn = repl_export_lsn(ex);
	s->kafka_snap_tables = wp_calloc(ntodo + 1, sizeof(char *));
	for (size_t i = 0; i < ntodo; i++) {
		bool to_kafka = true;

		for (size_t r = 0; r < s->rs->nrules; r++)
			if (s->rs->rule_kafka && !s->rs->rule_kafka[r]) {
				char *q2 = ident_qualified(s->rs->rules[r].from_schema,
										   s->rs->rules[r].from_table);

				if (strcmp(q2, todo[i]) == 0)
					to_kafka = false;
				free(q2);
			}
		if (to_kafka)
			s->kafka_snap_tables[s->nkafka_snap_tables++] =
				wp_strdup(todo[i]);
	}
	return SESSION_OK;
}

/* Copy the tables todo in snapshot ex (snapshot_run takes it). */
static enum session_end
session_snapshot_copy(struct session *s, struct repl_export *ex,
					  const char *kind, char **todo, size_t ntodo,
					  volatile sig_atomic_t *stop, bool *stopped)
{
	const struct run_settings *rs = s->rs;
	struct snapshot_job job;
	char l1[LSN_STRLEN];

	wp_log(LOG_NOTICE,
		   "copying %zu table(s) before streaming; replication slot \"%s\" "
		   "holds the source's WAL%s%s until then",
		   ntodo, rs->slot, s->ckpt.exists ? " from " : "",
		   s->ckpt.exists ? lsn_format(s->ckpt.lsn, l1) : "");
	memset(&job, 0, sizeof(job));
	job.rs = rs;
	job.kind = kind;
	job.tables = todo;
	job.ntables = ntodo;
	job.workers = rs->snapshot_workers;
	job.op = rs->snapshot_op ? rs->snapshot_op : 'r';
	job.export = ex;
	job.stop = stop;
	job.metrics = s->metrics;
	/* Ready, not starting: a copy may outlast any start timeout. */
	notify_ready("copying the initial snapshot");
	metrics_set_up(s->metrics, true); /* copying is applying */
	/* Only a first start's snapshot is the slot's consistent point: the
	 * stream to Kafka starts there. */
	if (rs->kafka && strcmp(kind, "initial") == 0 && s->ckpt.exists &&
		s->ckpt.lsn == repl_export_lsn(ex) && s->kafka_snap == NULL) {
		enum session_end e = session_kafka_snapshot_hold(s, ex, todo, ntodo);

		if (e != SESSION_OK) {
			repl_export_close(ex);
			return e;
		}
	}
	switch (snapshot_run(&job)) {
	case SNAPSHOT_OK: return SESSION_OK;
	case SNAPSHOT_STOPPED: *stopped = true; return SESSION_OK;
	case SNAPSHOT_RETRY: return SESSION_RETRY;
	default: return SESSION_FATAL;
	}
}

static enum session_end
session_snapshot(struct session *s, volatile sig_atomic_t *stop,
				 bool *stopped)
{
	struct repl_export *ex;
	const char *kind;
	char **todo = NULL;
	size_t ntodo = 0;
	enum session_end e = session_snapshot_todo(s, &todo, &ntodo);

	if (e != SESSION_OK)
		return e;
	if (ntodo == 0) {
		free(todo);
		return SESSION_OK;
	}
	e = session_snapshot_export(s, &ex, &kind);
	if (e == SESSION_OK && ex)
		e = session_snapshot_copy(s, ex, kind, todo, ntodo, stop, stopped);
	run_tables_free(todo, ntodo);
	return e;
}


/* The analytics sink: schema, checkpoint, compiled mappings. */
static enum session_end
session_open_analytics(struct session *s)
{
	const struct run_settings *rs = s->rs;
	struct sink_pg_config sc;
	enum sink_result sr;
	enum session_end e;
	char err[2048];

	run_sink_config(rs, &sc);
	s->sink = sink_pg_open(&sc, &sr, err, sizeof(err));
	if (s->sink == NULL) {
		wp_log(LOG_ERROR, "%s", err);
		return sr == SINK_RETRY ? SESSION_RETRY : SESSION_FATAL;
	}
	/* Partitions ahead of time; without them rows land in the default
	 * partition, so a failure here (a concurrent DBA, rows in the default
	 * partition for the new range) must not stop the apply. */
	if (sink_pg_maintain(s->sink, err, sizeof(err)) != SINK_OK)
		wp_log(LOG_WARNING, "%s", err);
	sr = sink_pg_read_checkpoint(s->sink, &s->ckpt, err, sizeof(err));
	if (sr != SINK_OK) {
		wp_log(LOG_ERROR, "%s", err);
		return sr == SINK_RETRY ? SESSION_RETRY : SESSION_FATAL;
	}
	e = session_plan(s);
	if (e != SESSION_OK)
		return e;
	sr = sink_pg_prepare(s->sink, s->targets, s->ntargets, err, sizeof(err));
	if (sr != SINK_OK) {
		wp_log(LOG_ERROR, "%s", err);
		return sr == SINK_RETRY ? SESSION_RETRY : SESSION_FATAL;
	}
	/* What walpipe plan compares a new file with, and the backfills of
	 * what changed since: only a lost connection stops the session (the
	 * next one registers what this one could not: the rules stay old). */
	sr = sink_pg_record_rules(s->sink, s->rs->rules, s->rs->nrules,
							  s->mirror.base ? s->mirror.base->nrules
											 : s->rs->nrules,
							  s->rs->backfill_auto, err, sizeof(err));
	if (sr == SINK_RETRY) {
		wp_log(LOG_WARNING, "%s", err);
		return SESSION_RETRY;
	}
	if (sr != SINK_OK)
		wp_log(LOG_WARNING, "%s", err);
	return SESSION_OK;
}

/*
 * pgoutput streams what the publication holds: check it (creating it
 * with create_slot) before any slot is created, since pgoutput looks it
 * up as of each change's position, and at every session, since a reload
 * may have added tables or mirrors.  A mirror's schemas are published
 * whole, so that the tables created in them later are too.
 */
static enum session_end
session_check_publication(struct session *s)
{
	const struct run_settings *rs = s->rs;
	PGconn *conn = session_connect_source(s);
	char err[2048], done[1024];
	struct repl_pub_scope scope;
	const char **schemas;
	int r;

	if (conn == NULL)
		return SESSION_RETRY;
	scope.tables = rs->source_tables;
	scope.ntables = rs->nsource_tables;
	scope.all_tables = config_mirror_schemas(rs->mirrors, rs->nmirrors,
											 &schemas, &scope.nschemas);
	scope.schemas = schemas;
	r = repl_publication_check(conn, rs->publication, &scope,
							   rs->create_slot, done, sizeof(done), err,
							   sizeof(err));
	free(schemas);
	PQfinish(conn);
	if (r < 0) {
		wp_log(LOG_WARNING, "%s", err);
		return SESSION_RETRY;
	}
	if (r == 0 || r == 2) {
		wp_log(LOG_ERROR, "%s", err);
		return SESSION_FATAL;
	}
	if (done[0])
		wp_log(LOG_NOTICE, "%s", done);
	return SESSION_OK;
}

/*
 * Kafka alone (issue 20): Debezium's snapshot.mode=initial without an
 * analytics database.  The position file is the record that the initial
 * snapshot is over (it is first written once Kafka has every read event,
 * session_kafka_snapshot_record), so without it every table of
 * source.tables is read again: on a first start in the exported snapshot
 * of the slot created here (its consistent point C, then the stream from
 * exactly there), after a crash mid-snapshot or with a slot made by
 * someone else in a temporary slot's snapshot at P >= C: the reads hold
 * the rows as of P and the stream from the slot's position sends the
 * changes up to P once more (at least once, as Debezium's re-snapshot).
 */
static enum session_end
session_kafka_alone_snapshot_hold(struct session *s)
{
	const struct run_settings *rs = s->rs;
	struct posfile_record rec;
	struct repl_export *ex;
	enum repl_result rr;
	enum session_end e;
	char err[2048], name[64], l1[LSN_STRLEN];
	int exists;

	if (posfile_read(rs->position_file, &rec, err, sizeof(err)) != 0 ||
		rs->nsource_tables == 0)
		return SESSION_OK; /* done, or session_read_position says why */
	exists = repl_slot_exists(rs->source_conninfo, rs->slot, err,
							  sizeof(err));
	if (exists < 0) {
		wp_log(LOG_WARNING, "%s", err);
		return SESSION_RETRY;
	}
	if (exists == 0 && !rs->create_slot)
		return SESSION_OK; /* repl_open says the slot is missing */
	snprintf(name, sizeof(name), "walpipe_snapshot_%ld", (long) getpid());
	ex = repl_export_open(rs->source_conninfo, exists ? name : rs->slot,
						  rs->pgoutput, exists != 0, &rr, err, sizeof(err));
	if (ex == NULL) {
		wp_log(rr == REPL_RETRY ? LOG_WARNING : LOG_ERROR, "%s", err);
		return rr == REPL_RETRY ? SESSION_RETRY : SESSION_FATAL;
	}
	if (exists == 0)
		wp_log(LOG_NOTICE,
			   "created replication slot \"%s\" at %s with an exported "
			   "snapshot",
			   rs->slot, lsn_format(repl_export_lsn(ex), l1));
	else
		wp_log(LOG_NOTICE,
			   "no position recorded in \"%s\": the initial snapshot for "
			   "Kafka is read again, in a snapshot at %s (the changes from "
			   "the slot's position to there follow the read events: at "
			   "least once)",
			   rs->position_file, lsn_format(repl_export_lsn(ex), l1));
	e = session_kafka_snapshot_hold(s, ex, rs->source_tables,
									rs->nsource_tables);
	s->kafka_snap_unrecorded = e == SESSION_OK;
	/* The held transaction keeps the snapshot it imported. */
	repl_export_close(ex);
	return e;
}

enum session_end
session_open(struct session *s, volatile sig_atomic_t *stop, bool *stopped)
{
	enum session_end e;

	*stopped = false;
	if (s->rs->pgoutput && (e = session_check_publication(s)) != SESSION_OK)
		return e;
	/* Kafka alone has no analytics database: the slot is its checkpoint. */
	if (s->rs->target_conninfo)
		e = session_open_analytics(s);
	else
		e = session_plan_kafka(s);
	if (e != SESSION_OK)
		return e;
	if (s->sink && s->rs->snapshot_initial)
		e = session_snapshot(s, stop, stopped);
	else if (s->rs->kafka && s->rs->position_file && s->rs->snapshot_initial)
		e = session_kafka_alone_snapshot_hold(s);
	if (e != SESSION_OK || *stopped)
		return e;
	return session_backfill_open(s);
}

/*
 * Kafka alone: once Kafka has acknowledged every read event, record the
 * slot's position (posfile.h), which says from now on that the initial
 * snapshot is over.  Stopped or failed before: nothing is recorded and
 * the next run reads the snapshot again.
 */
static enum session_end
session_kafka_snapshot_record(struct session *s)
{
	struct sink_kafka_stats ks;
	enum kafka_result r;
	char err[2048];

	do {
		r = sink_kafka_drain(s->kafka, 1000, session_tick, s, err,
							 sizeof(err));
		sink_kafka_stats(s->kafka, &ks);
	} while (r == KAFKA_OK && ks.pending > 0 && !*s->stop);
	if (r != KAFKA_OK) {
		wp_log(r == KAFKA_FATAL ? LOG_ERROR : LOG_WARNING, "%s", err);
		return r == KAFKA_FATAL ? SESSION_FATAL : SESSION_RETRY;
	}
	if (ks.pending > 0)
		return SESSION_OK; /* stopped: the session ends unrecorded */
	if (!session_record(s, s->ckpt.lsn))
		return SESSION_RETRY;
	s->kafka_snap_unrecorded = false;
	wp_log(LOG_INFO, "Kafka has every read event of the initial snapshot");
	return SESSION_OK;
}

/*
 * Produce the held snapshot's rows (session_kafka_snapshot_hold) as read
 * events, one pseudo-transaction ending at the snapshot's consistent
 * point: the slot passes it only once Kafka has every row.
 */
static enum session_end
session_kafka_snapshot(struct session *s)
{
	char err[2048], l1[LSN_STRLEN];
	enum kafka_result r = KAFKA_OK;
	uint64_t total = 0;

	sink_kafka_begin(s->kafka, s->kafka_snap_lsn);
	for (size_t i = 0; i < s->nkafka_snap_tables && r == KAFKA_OK; i++) {
		struct ident_name n;
		uint64_t rows = 0;

		if (!ident_parse(s->kafka_snap_tables[i], 2, 2, &n, err,
						 sizeof(err))) {
			wp_log(LOG_ERROR, "%s", err);
			return SESSION_FATAL;
		}
		r = sink_kafka_snapshot_table(s->kafka, s->kafka_snap, n.part[0],
									  n.part[1], s->kafka_snap_lsn, i == 0,
									  i + 1 == s->nkafka_snap_tables,
									  session_tick, s, s->stop, &rows, err,
									  sizeof(err));
		ident_name_free(&n);
		total += rows;
		if (r == KAFKA_OK)
			wp_log(LOG_INFO,
				   "produced %llu row(s) of %s to Kafka as read events "
				   "(table %zu of %zu)",
				   (unsigned long long) rows, s->kafka_snap_tables[i], i + 1,
				   s->nkafka_snap_tables);
	}
	sink_kafka_commit(s->kafka);
	PQfinish(s->kafka_snap);
	s->kafka_snap = NULL;
	if (r == KAFKA_STOPPED)
		return SESSION_OK;
	if (r != KAFKA_OK) {
		wp_log(r == KAFKA_FATAL ? LOG_ERROR : LOG_WARNING, "%s", err);
		return r == KAFKA_FATAL ? SESSION_FATAL : SESSION_RETRY;
	}
	wp_log(LOG_NOTICE,
		   "produced %llu existing row(s) of %zu table(s) to Kafka as read "
		   "events at %s",
		   (unsigned long long) total, s->nkafka_snap_tables,
		   lsn_format(s->kafka_snap_lsn, l1));
	return s->kafka_snap_unrecorded ? session_kafka_snapshot_record(s)
									: SESSION_OK;
}

/*
 * Kafka alone: the recorded position (posfile.h) stands for the
 * checkpoint, so a slot moved by someone else is refused
 * (session_check_slot).
 */
static enum session_end
session_read_position(struct session *s)
{
	const struct run_settings *rs = s->rs;
	struct posfile_record r;
	char err[2048];
	int got = posfile_read(rs->position_file, &r, err, sizeof(err));

	if (got < 0) {
		wp_log(LOG_ERROR, "%s", err);
		return SESSION_FATAL;
	}
	if (got > 0 && strcmp(r.slot, rs->slot) != 0) {
		wp_log(LOG_ERROR,
			   "position file \"%s\" records slot \"%s\", but the "
			   "configuration names slot \"%s\"\nIf the slot was "
			   "renamed on purpose, remove the file: walpipe then starts "
			   "where the new slot is.",
			   rs->position_file, r.slot, rs->slot);
		return SESSION_FATAL;
	}
	if (got > 0) {
		s->ckpt.exists = true;
		s->ckpt.lsn = r.lsn;
		snprintf(s->ckpt.system_id, sizeof(s->ckpt.system_id), "%s",
				 r.system_id);
		s->ckpt.timeline = r.timeline;
		s->recorded = r.lsn;
	}
	return SESSION_OK;
}

/* Which of NaN and the infinities the stream carries exactly. */
static void
session_warn_numbers(const struct session *s, const struct repl_info *info)
{
	if (s->rs->pgoutput)
		return; /* every value as its text */
	if (!info->numbers_as_strings && s->special)
		wp_log(LOG_WARNING,
			   "the source's wal2json has no numeric-data-types-as-string "
			   "(it came with wal2json 2.6): NaN, Infinity and -Infinity in "
			   "columns %s arrive as NULL%s\nUpgrade wal2json on the source "
			   "to carry them exactly; the initial snapshot copies them "
			   "exactly.",
			   s->special, s->rs->staging_schema ? " (null in staging)" : "");
	else if (!info->numbers_as_strings && s->sink == NULL)
		wp_log(LOG_WARNING,
			   "the source's wal2json has no numeric-data-types-as-string "
			   "(it came with wal2json 2.6): NaN, Infinity and -Infinity of "
			   "real, double precision and numeric columns reach Kafka as "
			   "null\nUpgrade wal2json on the source to carry them exactly.");
	else if (info->numbers_as_strings)
		wp_log(LOG_INFO, "the source's wal2json sends numeric values as "
						 "strings: NaN and the infinities arrive exactly");
}

/* START_REPLICATION at the checkpoint (repl_open checks the source's
 * identity against it); *info: what repl_open learned. */
static enum session_end
session_open_stream(struct session *s, struct repl_info *info)
{
	const struct run_settings *rs = s->rs;
	struct repl_config rc;
	enum repl_result rr;
	char err[2048];

	memset(&rc, 0, sizeof(rc));
	rc.conninfo = rs->source_conninfo;
	rc.slot = rs->slot;
	rc.create_slot = rs->create_slot;
	/*
	 * With Kafka the slot is confirmed at the lesser of the checkpoint and
	 * what Kafka has: start at the slot (the server's default) so that
	 * Kafka gets again everything it may not have; the analytics sink
	 * skips what its checkpoint covers.
	 */
	rc.start = s->ckpt.exists && !rs->kafka ? s->ckpt.lsn : LSN_INVALID;
	rc.tables = rs->tables;
	rc.all_of_schemas = s->parts.all_of_schemas;
	rc.nall_of_schemas = s->parts.nall_of_schemas;
	rc.include_types = false; /* types come from the source catalog */
	rc.numbers_as_strings = true;
	rc.pgoutput = rs->pgoutput;
	rc.publication = rs->publication;
	rc.status_interval_ms = rs->status_interval_ms;
	if (s->ckpt.exists) {
		rc.system_id = s->ckpt.system_id;
		rc.timeline = s->ckpt.timeline;
		rc.applied = s->ckpt.lsn;
	}
	s->stream = repl_open(&rc, info, &rr, err, sizeof(err));
	if (s->stream)
		repl_set_notice_hook(s->stream, session_notice_hook, s);
	if (s->stream == NULL) {
		wp_log(rr == REPL_RETRY ? LOG_WARNING : LOG_ERROR, "%s", err);
		return rr == REPL_RETRY ? SESSION_RETRY : SESSION_FATAL;
	}
	/* repl_open checked them against the checkpoint's: from now on every
	 * checkpoint names the cluster and timeline its position is in. */
	snprintf(s->ckpt.system_id, sizeof(s->ckpt.system_id), "%s",
			 info->system_id);
	s->ckpt.timeline = info->timeline;
	w2j_decoder_numbers_as_strings(s->dec, info->numbers_as_strings,
								   rc.include_types);
	/* A new stream sends every Relation again: a new cache. */
	pgo_decoder_free(s->pgo);
	s->pgo = NULL;
	if (rs->pgoutput) {
		s->pgo = pgo_decoder_new();
		pgo_decoder_keep_types(s->pgo, rc.include_types);
	}
	session_warn_numbers(s, info);
	return SESSION_OK;
}

/*
 * The slot against the checkpoint: a slot ahead of it was confirmed past
 * changes walpipe never applied (refused unless allow_slot_ahead); on a
 * first start the checkpoint begins where the slot is, durably.
 */
static enum session_end
session_check_slot(struct session *s, const struct repl_info *info)
{
	const struct run_settings *rs = s->rs;
	char err[2048], l1[LSN_STRLEN], l2[LSN_STRLEN];

	if (info->slot_created)
		wp_log(LOG_NOTICE, "created replication slot \"%s\" at %s", rs->slot,
			   lsn_format(info->confirmed_flush, l1));
	if (s->ckpt.exists && info->confirmed_flush > s->ckpt.lsn) {
		if (!rs->allow_slot_ahead && rs->position_file) {
			wp_log(LOG_ERROR,
				   "replication slot \"%s\" is at %s, ahead of the position "
				   "%s walpipe recorded in \"%s\": the changes between were "
				   "never produced to Kafka (was the slot recreated, as after "
				   "a failover, or advanced?)\nProduce them from another "
				   "source of truth, then start once with "
				   "--allow-slot-ahead to accept the gap.",
				   rs->slot, lsn_format(info->confirmed_flush, l1),
				   lsn_format(s->ckpt.lsn, l2), rs->position_file);
			return SESSION_FATAL;
		}
		if (!rs->allow_slot_ahead) {
			wp_log(LOG_ERROR,
				   "replication slot \"%s\" is at %s, ahead of walpipe's "
				   "checkpoint %s: the changes between were confirmed "
				   "without being applied (was the slot recreated or "
				   "advanced?)\nTake a new snapshot, or start once with "
				   "--allow-slot-ahead to accept the gap.",
				   rs->slot, lsn_format(info->confirmed_flush, l1),
				   lsn_format(s->ckpt.lsn, l2));
			return SESSION_FATAL;
		}
		wp_log(LOG_WARNING,
			   "accepting the gap from checkpoint %s to slot position %s",
			   lsn_format(s->ckpt.lsn, l1),
			   lsn_format(info->confirmed_flush, l2));
		s->ckpt.lsn = info->confirmed_flush;
		s->ckpt.txn_end = LSN_INVALID;
		s->ckpt.txn_applied = 0;
		if (rs->position_file && !session_record(s, s->ckpt.lsn))
			return SESSION_RETRY;
	}
	if (!s->ckpt.exists) {
		/* First start: begin where the slot is, and say so durably. */
		s->ckpt.lsn = info->confirmed_flush;
		if (s->sink && sink_pg_write_checkpoint(s->sink, &s->ckpt, err,
												sizeof(err)) != SINK_OK) {
			wp_log(LOG_ERROR, "%s", err);
			return SESSION_RETRY;
		}
		if (rs->position_file && !s->kafka_snap_unrecorded &&
			!session_record(s, s->ckpt.lsn))
			return SESSION_RETRY;
		s->ckpt.exists = true;
	}
	return SESSION_OK;
}

/* The positions, Kafka, the applier and the refresh schedule at the
 * checkpoint; then tell the service manager and the log. */
static enum session_end
session_begin_streaming(struct session *s, const struct repl_info *info)
{
	const struct run_settings *rs = s->rs;
	char err[2048], l1[LSN_STRLEN], l2[LSN_STRLEN], st[160];

	streampos_start(&s->pos, &(struct stream_point){s->ckpt.lsn,
													  s->ckpt.txn_end,
													  s->ckpt.txn_applied});
	snprintf(s->last_commit_time, sizeof(s->last_commit_time), "%s",
			 s->ckpt.last_commit_time);
	if (rs->kafka) {
		/* Everything up to the slot's position is in Kafka already: it
		 * was only ever confirmed at what Kafka had delivered. */
		s->kafka = sink_kafka_open(rs->kafka, info->confirmed_flush, err,
								   sizeof(err));
		if (s->kafka == NULL) {
			wp_log(LOG_ERROR, "%s", err);
			return SESSION_FATAL;
		}
		wp_log(LOG_INFO, "producing to Kafka from %s (%s)",
			   lsn_format(info->confirmed_flush, l1), rs->kafka->brokers);
		if (s->kafka_snap) {
			enum session_end e;

			/* A temporary slot's snapshot (Kafka alone) may be ahead of
			 * the slot: its reads go as the slot's position, which the
			 * stream starts after. */
			if (s->kafka_snap_lsn > info->confirmed_flush)
				s->kafka_snap_lsn = info->confirmed_flush;
			e = session_kafka_snapshot(s);

			if (e != SESSION_OK)
				return e;
		}
	}
	s->queued = s->ckpt;
	if (s->sink) {
		s->spare = batch_new(rs->max_bytes + (1 << 20));
		s->applier = applier_new(s->sink, s->targets, s->ntargets);
	}
	session_confirm(s);
	s->refresh_due = wp_calloc(rs->nrefresh ? rs->nrefresh : 1,
							   sizeof(*s->refresh_due));
	for (size_t i = 0; i < rs->nrefresh; i++)
		s->refresh_due[i] = clock_mono_ms() + rs->refresh[i].every_ms;
	wp_log(LOG_INFO,
		   "streaming slot \"%s\" from checkpoint %s%s (source at %s), "
		   "%zu mapping(s)",
		   rs->slot, lsn_format(s->ckpt.lsn, l1),
		   s->ckpt.txn_end ? " inside a split transaction" : "",
		   lsn_format(info->server_lsn, l2), s->ntargets);
	snprintf(st, sizeof(st), "streaming slot %s from %s", rs->slot,
			 lsn_format(s->ckpt.lsn, l1));
	notify_ready(st);
	/* The walsender takes its synchronous priority just after
	 * START_REPLICATION: a second is ample. */
	s->sync_check_at = clock_mono_ms() + 1000;
	metrics_set_up(s->metrics, true);
	metrics_positions(s->metrics, s->ckpt.lsn, info->server_lsn,
					  s->ckpt.last_commit_time);
	return SESSION_OK;
}

enum session_end
session_start_stream(struct session *s)
{
	struct repl_info info;
	enum session_end e = SESSION_OK;

	if (s->rs->position_file)
		e = session_read_position(s);
	if (e == SESSION_OK)
		e = session_open_stream(s, &info);
	if (e == SESSION_OK)
		e = session_check_slot(s, &info);
	if (e == SESSION_OK)
		e = session_begin_streaming(s, &info);
	return e;
}
