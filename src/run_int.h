/* run_int.h: the session of `walpipe run`, shared by the files of the run module only. */
#ifndef WALPIPE_RUN_INT_H
#define WALPIPE_RUN_INT_H

/*
 * The run module, one file per hop of the data path:
 *   run.c         the session loop and its stages, the retry loop
 *   run_open.c    before streaming: the sinks, the mappings compiled
 *                 against the source catalog, the initial snapshot, the
 *                 stream started at the checkpoint
 *   run_intake.c  one message: decode, route (partitions), shape and
 *                 identity checks, skip or add to the batch
 *   run_apply.c   the batch handed to the applier and collected, Kafka
 *                 produce and poll, the slot confirmed
 *   run_mirror.c  the mirrors' tables: matched in the source catalog,
 *                 their targets made to exist, their rules beside the
 *                 mappings
 * Everything here runs on the loop's thread; while a batch is in flight
 * (session_applying) the applier owns the sink, the targets and that
 * batch (applier.h), and only the functions of run_apply.c wait for it.
 * Every function that returns an enum session_end has logged why when it
 * is not SESSION_OK.
 */

#include "walpipe/run.h"

#include "walpipe/applier.h"
#include "walpipe/batch.h"
#include "walpipe/catalog.h"
#include "walpipe/repl.h"
#include "walpipe/route.h"
#include "walpipe/sink_kafka.h"
#include "walpipe/sink_pg.h"
#include "walpipe/streampos.h"
#include "walpipe/pgoutput.h"
#include "walpipe/wal2json.h"
#include "walpipe/xidsnap.h"

#include <libpq-fe.h>

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum session_end {
	SESSION_OK,
	SESSION_RELOAD, /* stopped cleanly to take a new configuration */
	SESSION_REPLAN, /* stopped cleanly: a source table changed shape */
	SESSION_RETRY,
	SESSION_FATAL,
};

/* Heartbeat: a logical message emitted on the source and read back. */
struct session_heartbeat {
	PGconn *conn;
	int64_t sent; /* monotonic ms of the oldest unanswered emit, 0: none */
	int64_t next; /* when to emit the next */
};

/* What the last progress line reported from, and when maintenance ran. */
struct session_progress {
	int64_t reported_at; /* monotonic ms */
	uint64_t received;	 /* s->received then */
	int64_t maintained_at; /* monotonic ms of the last sink_pg_maintain */
};

/*
 * Partitioned source tables (route.h): route is NULL when none is mapped,
 * and wal2json's filter then sends exactly the listed tables.
 */
struct session_partitions {
	PGconn *plan_conn; /* the catalog connection, kept for lookups */
	struct route *route;
	char **all_of_schemas; /* add-tables "schema.*" */
	size_t nall_of_schemas;
	char *part_sig; /* catalog_partition_watch's, at the last look */
	struct route_entry **gone; /* tables looked up too late */
	size_t ngone;
	/* Partitions truncated at trunc_lsn without their partitioned table
	 * (so far: its own T may still follow, session_route_truncate). */
	struct route_entry **trunc;
	size_t ntrunc;
	lsn_t trunc_lsn;
	uint32_t trunc_xid;
	/* The TRUNCATE is in what an earlier session applied (skipped). */
	bool trunc_applied;
	/* The transactions streamed (each B) that plan_conn's catalog has
	 * not yet been seen to show (session_catalog_sees). */
	struct xidset unseen;
};

/*
 * The mirrors of a session (run_mirror.c): the settings the session runs
 * with are the configuration's plus one rule per mirrored table, fixed
 * for the session (a table created later ends it: session_mirror_new).
 */
struct session_mirror {
	struct run_settings rs;		/* the configuration's, rules replaced */
	const struct run_settings *base;
	struct map_rule *rules;		/* the mappings', then the mirrors' */
	bool *rule_kafka;
	struct map_rule **owned;	/* mirror_rule_new's */
	size_t nowned;
	/* catalog_columns_signature of the mirrored tables, as the session
	 * expanded them: a change means DDL to follow. */
	char *sig;
};

/*
 * Online backfills (run_backfill.c): the ones pending or copying, read at
 * the session's start, copied one after the other in chunks between the
 * stream's transactions.
 */
struct session_backfill {
	struct sink_backfill *list;
	size_t n;
	size_t cur;	   /* the one in hand; n: none left */
	PGconn *conn;  /* the source, for chunks */
	struct sink_target *target; /* the one in hand's, borrowed */
	struct map_key *keys;		/* its source key, owned */
	size_t nkeys;
	bool sweeps;   /* its rows no longer matching are removed */
	/* The chunk read last, or in flight: its last key and its statement. */
	char **last_new;
	size_t nlast_new;
	char *sweep;
	struct sink_chunk chunk;
	bool inflight;
	/* Transactions the stream passed that no chunk's snapshot has been
	 * seen to hold yet (32-bit xids, as the stream gives them). */
	struct xidset passed;
	int64_t next_ms;	  /* no chunk before (throttle, retry) */
	int64_t started_ms, logged_ms;
	uint64_t rows_at_start; /* of the one in hand, in this session */
	int64_t unseen_since, unseen_told;
	bool requested; /* `walpipe snapshot --table` asked for one */
};

/* The state of one session: connections, the batch in hand, positions. */
struct session {
	/* The configuration's settings, or mirror.rs once the mirrors are
	 * expanded (session_mirror_expand). */
	const struct run_settings *rs;
	struct session_mirror mirror;
	struct repl_stream *stream;
	struct sink_pg *sink;
	struct sink_kafka *kafka; /* NULL: Kafka off */
	/* The initial snapshot for Kafka: a source connection holding the
	 * exported snapshot (imported in an open transaction), read once the
	 * Kafka sink is open (session_kafka_snapshot); NULL: none to do. */
	PGconn *kafka_snap;
	lsn_t kafka_snap_lsn;
	char **kafka_snap_tables; /* ident_qualified text */
	size_t nkafka_snap_tables;
	/* Kafka alone: no position may be recorded (posfile.h) before Kafka
	 * has every read event of the initial snapshot, so that a crash
	 * during it reads the snapshot again (session_kafka_snapshot). */
	bool kafka_snap_unrecorded;
	struct sink_kafka_stats kstats; /* as last given to metrics */
	volatile sig_atomic_t *stop;
	int64_t txn_commit_ms; /* commit time of the transaction received */
	struct sink_target *targets;
	size_t ntargets;
	/* The mapped tables' real, double precision and numeric columns
	 * (catalog_special_columns), for the start-up warning when the
	 * server's wal2json cannot carry their NaN and infinities; or NULL. */
	char *special;
	struct w2j_decoder *dec;
	struct pgo_decoder *pgo; /* source.plugin pgoutput: decodes instead */
	struct batch *batch;	 /* being filled */
	struct batch *spare;	 /* the next to fill; NULL while applying */
	struct applier *applier; /* NULL: Kafka alone, or not streaming yet */
	struct checkpoint ckpt;	 /* what is committed in analytics */
	struct checkpoint queued; /* what will be once the applier is done */
	/* The stream against queued: what to skip, where a batch ends. */
	struct streampos pos;
	char last_commit_time[40];
	char txn_time[40]; /* the open transaction's commit time */
	int64_t batch_started; /* monotonic ms of the first change, 0: none */
	int64_t last_idle_ckpt;
	struct sink_stats stats;
	uint64_t received;
	uint64_t batches;
	uint64_t refresh_failures;
	int64_t *refresh_due; /* monotonic ms of each view's next refresh */
	struct metrics *metrics;
	struct session_heartbeat hb;
	struct session_progress progress;
	/* Monotonic ms at which to look whether the source waits for walpipe
	 * at commit (session_sync_check); 0: looked, or not streaming. */
	int64_t sync_check_at;
	bool applied_any;
	bool reload_waiting; /* a reload waits for the transaction's commit */
	/* The change that last ended a session with SESSION_REPLAN: if it
	 * still does not fit the fresh plan, re-reading cannot help.  The
	 * next session reads the catalog once its transaction shows there. */
	lsn_t replan_lsn;
	uint32_t replan_xid;
	/* The backfill request (REPL_BACKFILL_PREFIX) last taken: kept across
	 * sessions by run_loop, since a new session may read it again. */
	lsn_t asked_lsn;
	/*
	 * The most changes a batch may hold now: max_changes, halved after a
	 * batch timed out (target.statement_timeout) so that the retry can
	 * fit, and doubled back after every 10 batches that commit.  Kept
	 * across sessions by run_loop.
	 */
	size_t batch_cap;
	unsigned cap_ok;
	/* Kafka alone: the position last recorded (posfile.h), which the
	 * slot is never confirmed beyond, and when. */
	lsn_t recorded;
	int64_t recorded_at;
	/* The source's WAL position and snapshot just before the plans'
	 * catalog was read: a change below that position whose transaction
	 * the snapshot shows is older than that catalog (session_check_shape;
	 * a commit is streamed a moment before it shows). */
	lsn_t catalog_lsn;
	struct xidsnap catalog_snap;
	struct session_partitions parts;
	struct session_backfill bf;
	bool stall_warned; /* the apply thread's stall was logged */
	int64_t watchdog_at; /* monotonic ms of the last watchdog look */
	int64_t notices_logged; /* monotonic ms of the last notice line */
	/* wal2json's warning that it dropped an update or delete of a table
	 * a keyless mapping reads (session_notice_hook), "" if none. */
	char keyless_dropped[512];
};

/* run.c */

/* Between apply steps: answer the walsender, serve Kafka's delivery
 * reports, feed the watchdog.  arg is the session (a sink callback). */
void session_tick(void *arg);

/* run_open.c */

/*
 * The sinks (analytics: schema, checkpoint, compiled mappings; Kafka
 * alone: the routes only) and, with snapshot.initial, the initial
 * snapshot.  *stopped: *stop was set during the snapshot (the session
 * then ends with SESSION_OK).
 */
enum session_end session_open(struct session *s, volatile sig_atomic_t *stop,
							  bool *stopped);

/*
 * Open the replication stream at the checkpoint (or Kafka alone's
 * recorded position), refuse a slot ahead of it, write the first
 * checkpoint, open Kafka and the applier: from here on the loop runs.
 */
enum session_end session_start_stream(struct session *s);

/* The source tables the mappings read, each once, in ident_qualified's
 * text; free with run_tables_free (NULL-safe). */
char **run_mapped_tables(const struct run_settings *rs, size_t *n);
void run_tables_free(char **t, size_t n);

/* run_intake.c */

/* Told of each server notice on the stream (repl_set_notice_hook): notes
 * wal2json's warning that it dropped a keyless mapping's change. */
void session_notice_hook(void *arg, const char *message);

/* Decode message d and take it in (session_handle). */
enum session_end session_receive(struct session *s, const struct repl_data *d);

/* A change of a keyless mapping was dropped (keyless_dropped): commit
 * everything before it, log why and end with SESSION_FATAL. */
enum session_end session_stop_dropped(struct session *s);

/* Before the checkpoint moves past what is in hand: have the followed
 * partitioned tables' partitions changed?  SESSION_REPLAN if so. */
enum session_end session_check_partitions(struct session *s);
/* Wait until the source's catalog shows every transaction streamed so
 * far (with a route: plan_conn). */
enum session_end session_catalog_sees(struct session *s);
/* Commit everything in hand and end with SESSION_REPLAN before change c:
 * the next session reads the catalog once c's transaction shows there
 * (replan_lsn, replan_xid). */
enum session_end session_end_replan(struct session *s,
									const struct w2j_change *c);

/* run_mirror.c */

/*
 * Expand the mirrors against the source catalog over src: every matching
 * table not named by a mapping gets its target created or checked (in
 * one analytics transaction) and a rule; s->rs then points at settings
 * holding the mappings' rules and the mirrors'.  Nothing to do without
 * mirrors.  A table that cannot be mirrored (no replica identity that
 * logs its updates and deletes) or a target that does not fit stops
 * walpipe (SESSION_FATAL) with every such table named.
 */
enum session_end session_mirror_expand(struct session *s, PGconn *src);

/*
 * Before the checkpoint moves past what is in hand: have the mirrored
 * tables' columns changed on the source (ADD or DROP COLUMN, a type, an
 * enum's labels)?  A table dropped or renamed is not a change: the
 * plans still serve what it did before.  SESSION_REPLAN if so,
 * applying nothing of what is in hand: the next session makes the
 * targets follow (mirror_pg_ensure_target) and reads from the
 * checkpoint again.
 */
enum session_end session_mirror_check(struct session *s);

/* Whether a mirror of s wants source table schema.table though the
 * session has no rule for it (created since the session began). */
bool session_mirror_wants(const struct session *s, const char *schema,
						  const char *table);

/*
 * Change c is the first of a table session_mirror_wants: commit what is
 * in hand and end the session (SESSION_REPLAN), so that the next one
 * mirrors it.  c is not counted yet (it was not routed).
 */
enum session_end session_mirror_new(struct session *s,
									const struct w2j_change *c);

/* NULL-safe on an empty s->mirror. */
void session_mirror_free(struct session *s);

/* run_backfill.c */

/* Read this source's backfills pending or copying and prepare the first;
 * between opening the analytics sink and starting the stream. */
enum session_end session_backfill_open(struct session *s);

/* The stream passes the transaction xid (a chunk must see it). */
void session_backfill_passed(struct session *s, uint32_t xid);

/* Loop stage: the next chunk, when due and between transactions. */
enum session_end session_backfill_step(struct session *s, int64_t now);

/* How long the loop may wait for the stream before the next chunk is
 * due, or -1 when none is. */
int session_backfill_wait_ms(const struct session *s, int64_t now);

/* A job was collected: if it was a chunk, the backfill moves on. */
enum session_end session_backfill_collected(struct session *s);

/* NULL-safe on an empty s->bf. */
void session_backfill_free(struct session *s);

/* run_apply.c */

/* A batch is with the applier (in flight, or done and not collected). */
bool session_applying(const struct session *s);

/* The batch in hand is full (max_changes, the timeout cap, max_bytes), or
 * its first change is max_delay old. */
bool session_batch_full(const struct session *s);
bool session_batch_due(const struct session *s);

/* Hand the batch in hand to the applier with the checkpoint it reaches. */
enum session_end session_flush(struct session *s);

/* Take the applier's finished job, waiting up to timeout_ms. */
enum session_end session_collect(struct session *s, int timeout_ms);

/* Wait until the applier has nothing in hand, answering the walsender. */
enum session_end session_drain(struct session *s);

/* Confirm the slot at what every sink has (the checkpoint, Kafka's
 * delivered watermark, Kafka alone's recorded position). */
void session_confirm(struct session *s);

/* Kafka alone: record lsn durably (posfile.h) before the slot may be
 * confirmed at it.  Logs a failure. */
bool session_record(struct session *s, lsn_t lsn);

/* Produce change c (raw payload d) to Kafka, if its table goes there. */
enum session_end session_produce(struct session *s, const struct w2j_change *c,
								 const struct repl_data *d);

/* Kafka's delivery reports; confirm what they allow. */
enum session_end session_poll_kafka(struct session *s, int timeout_ms);

#endif
