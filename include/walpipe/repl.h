/* repl.h: the logical replication client: connect, check, start, stream, confirm. */
#ifndef WALPIPE_REPL_H
#define WALPIPE_REPL_H

#include "walpipe/lsn.h"

#include <libpq-fe.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * What a call's failure means for the caller.  Only the outer run loop
 * acts on it: REPL_RETRY closes the stream, backs off and reopens;
 * REPL_FATAL stops walpipe (retrying cannot fix it).
 */
enum repl_result {
	REPL_OK = 0,
	REPL_TIMEOUT, /* repl_next: nothing arrived within the timeout */
	REPL_RETRY,	  /* connection lost or slot busy: reopen later */
	REPL_FATAL,	  /* configuration or server state retrying cannot fix */
};

struct repl_config {
	const char *conninfo;  /* libpq conninfo or URI; borrowed */
	const char *slot;	   /* slot name ([a-z0-9_], at most 63) */
	bool create_slot;	   /* create the slot if it does not exist */
	lsn_t start;		   /* LSN_INVALID: the slot's confirmed_flush_lsn */
	const char *tables;	   /* wal2json add-tables list, NULL: all tables */
	/* With tables: also every table of these schemas (add-tables
	 * "schema.*"), where partitions of a followed partitioned table are
	 * created (route.h); borrowed. */
	char *const *all_of_schemas;
	size_t nall_of_schemas;
	const char *prefixes;  /* wal2json add-msg-prefixes, NULL: all */
	bool include_types;	   /* ask wal2json for column type names */
	/*
	 * Ask for numeric-data-types-as-string (wal2json 2.6+), so that NaN
	 * and the infinities of real, double precision and numeric arrive as
	 * themselves, with the type names; without it in the server's
	 * wal2json, start without it (repl_info says which).
	 */
	bool numbers_as_strings;
	/*
	 * The slot uses pgoutput (pgoutput.h) instead of wal2json: the stream
	 * is started with protocol version 1, publication_names publication
	 * and messages on; tables, all_of_schemas, prefixes, include_types
	 * and numbers_as_strings are wal2json's and ignored (the publication
	 * chooses the tables).
	 */
	bool pgoutput;
	const char *publication; /* pgoutput: its name; borrowed */
	int status_interval_ms; /* standby status update period, e.g. 10000 */
	/*
	 * What walpipe's checkpoint recorded of the source, or NULL / 0 when
	 * nothing: repl_open refuses (REPL_FATAL, the way out in errbuf) a
	 * server of another cluster than system_id, on a timeline before
	 * timeline, or whose history left timeline before applied (changes
	 * walpipe applied are not in the source's history).
	 */
	const char *system_id;
	int timeline;
	lsn_t applied;
};

/* What repl_open learned about the server and the slot. */
struct repl_info {
	char system_id[32];
	int timeline;
	lsn_t server_lsn;	   /* IDENTIFY_SYSTEM xlogpos */
	lsn_t confirmed_flush; /* of the slot when walpipe started */
	bool slot_created;	   /* repl_open created it */
	int server_version;	   /* e.g. 150018 */
	/* The stream sends numeric values as strings: the server's wal2json
	 * took numeric-data-types-as-string (w2j_decoder_numbers_as_strings). */
	bool numbers_as_strings;
};

/* One wal2json message. */
struct repl_data {
	lsn_t data_start;	 /* XLogData dataStart */
	lsn_t wal_end;		 /* server's WAL end when sent */
	const char *payload; /* borrowed: valid until the next repl_next */
	size_t len;
};

struct repl_stream;

/*
 * Connect with replication=database, run IDENTIFY_SYSTEM, check that
 * wal_level is logical and that the slot exists, is logical, uses wal2json
 * (pgoutput: cfg->pgoutput), belongs to this database and is not invalidated (creating it when
 * cfg->create_slot), then START_REPLICATION.
 *
 * Returns the stream, or NULL with *res set to REPL_RETRY or REPL_FATAL
 * and the reason (and a hint, on its own line) in errbuf.  Fills *info
 * if not NULL.  Does not log.  Free with repl_close.
 */
struct repl_stream *repl_open(const struct repl_config *cfg,
							  struct repl_info *info, enum repl_result *res,
							  char *errbuf, size_t errlen);

/*
 * Wait up to timeout_ms (-1: forever) for the next wal2json message.
 * Meanwhile answers keepalives that ask for a reply at once and sends a
 * status update every status_interval_ms, so wal_sender_timeout never
 * fires.  Returns REPL_OK with *out filled, REPL_TIMEOUT, REPL_RETRY (the
 * connection was lost or the server ended the stream) or REPL_FATAL, with
 * the reason in errbuf.  Does not log.
 */
enum repl_result repl_next(struct repl_stream *s, struct repl_data *out,
						   int timeout_ms, char *errbuf, size_t errlen);

/*
 * Tell the stream what the consumer has durably applied: lsn is reported
 * as the flush position (never moving backwards), and is the only position
 * the slot is ever confirmed at.  caught_up says that every message
 * received so far is applied and no transaction is half received; while
 * it stays true the stream may confirm the position of later keepalives,
 * so that an idle source keeps no WAL.  Receiving a message clears it.
 */
void repl_confirm(struct repl_stream *s, lsn_t lsn, bool caught_up);

/*
 * Send a status update now if one is due: status_interval passed, or
 * repl_confirm moved past the flush position last sent and 5 ms passed
 * (force: now regardless).  repl_next sends them too.  Call it from long
 * work between repl_next calls.  Returns REPL_OK or REPL_RETRY with the
 * reason in errbuf.
 */
enum repl_result repl_send_status(struct repl_stream *s, bool force,
								  char *errbuf, size_t errlen);

/* The flush position last sent to the server. */
lsn_t repl_sent_flush(const struct repl_stream *s);

/* The server's WAL end as last reported (XLogData or keepalive). */
lsn_t repl_server_end(const struct repl_stream *s);

/* walEnd of the latest keepalive received, LSN_INVALID if none yet. */
lsn_t repl_keepalive_end(const struct repl_stream *s);

/*
 * Whether the source waits for this stream at commit.  Reads, on conn (a
 * plain connection to the source as the same role: pg_stat_replication
 * hides the state from other roles), the sync_state of the stream's
 * walsender into state ("async"; "potential": it would wait if a
 * synchronous standby before walpipe went away; "sync", "quorum": every
 * commit waits for walpipe's confirmation; "" when the walsender does not
 * show), synchronous_standby_names into names and the stream's
 * application name into appname.  The walsender takes its priority
 * just after START_REPLICATION: call this a moment later.  false with
 * the reason in errbuf when the server cannot say.  Does not log.
 */
bool repl_sync_state(const struct repl_stream *s, PGconn *conn, char *state,
					 size_t statelen, char *names, size_t nameslen,
					 char *appname, size_t appnamelen, char *errbuf,
					 size_t errlen);

/*
 * The number of server notices (wal2json's warnings) on the stream since
 * the last call, with the last one's text ("WARNING: ...") in buf.  Does
 * not log: the caller does.
 */
uint64_t repl_take_notices(struct repl_stream *s, char *buf, size_t len);

/*
 * Call hook(arg, message) for each server notice as libpq reads it, with
 * its primary message: before the CopyData that follows it on the wire
 * is returned by repl_next, so a change wal2json dropped (its warning)
 * is known before the change after it is handled.  The hook must not
 * call into the stream.  hook NULL: none.
 */
void repl_set_notice_hook(struct repl_stream *s,
						  void (*hook)(void *arg, const char *message),
						  void *arg);

/*
 * An exported snapshot: a replication connection that created a logical
 * slot with SNAPSHOT 'export' and stays idle, because the snapshot lives
 * only as long as that connection runs nothing else.
 */
struct repl_export;

/*
 * Connect with replication=database and CREATE_REPLICATION_SLOT slot
 * [TEMPORARY] LOGICAL wal2json|pgoutput (SNAPSHOT 'export').  The server first
 * waits for the transactions running on the source to end.  A temporary
 * slot disappears with the connection.  Returns NULL with *res
 * (REPL_RETRY or REPL_FATAL) and the reason in errbuf.  Does not log.
 * Free with repl_export_close.
 */
struct repl_export *repl_export_open(const char *conninfo, const char *slot,
									 bool pgoutput, bool temporary,
									 enum repl_result *res, char *errbuf,
									 size_t errlen);

/* "pgoutput" or "wal2json": the output plugin of a slot. */
const char *repl_plugin_name(bool pgoutput);

/* The snapshot name for SET TRANSACTION SNAPSHOT. */
const char *repl_export_snapshot(const struct repl_export *e);

/*
 * The slot's consistent point: the snapshot sees exactly the source
 * transactions whose commit record ends at or before it, and the slot
 * streams exactly those that end after it.
 */
lsn_t repl_export_lsn(const struct repl_export *e);

/* Disconnect (the snapshot ends).  NULL-safe. */
void repl_export_close(struct repl_export *e);

/*
 * Send a final status update, end the copy and disconnect.  NULL-safe.
 * Does not log; errors at this point change nothing the server keeps.
 */
void repl_close(struct repl_stream *s);

/*
 * Whether the source's wal2json takes numeric-data-types-as-string
 * (wal2json 2.6+), asked over conn, a plain (not replication) connection
 * of a role with REPLICATION: by peeking at the slot when it is idle, else
 * at a temporary slot it creates and drops (waiting at most 5 s for the
 * source's running transactions).  Returns 1 yes, 0 no, -1 unknown with
 * the reason in errbuf.  Does not log.
 */
int repl_probe_numbers_as_strings(PGconn *conn, const char *slot,
								  char *errbuf, size_t errlen);

/*
 * Plain (not replication) connections to the source, for what the run
 * loop asks of it besides the stream.  None of these logs: each fills
 * errbuf with the whole message, which the caller logs once.
 */

/*
 * Whether replication slot `slot` exists on the source, over a connection
 * of its own (pgconn_connect with conninfo, closed before returning).
 * Returns 1 yes, 0 no, or -1 when it could not tell, with
 * 'could not look up replication slot "NAME": <libpq message>' in errbuf
 * (a failed connection's reason included).
 */
int repl_slot_exists(const char *conninfo, const char *slot, char *errbuf,
					 size_t errlen);

/*
 * The source server's WAL position over conn (borrowed): the current
 * insert position, or on a standby what it has replayed.  A change the
 * stream carries below it was written before anything conn reads next
 * (read committed: each later query sees everything committed before it
 * ran).  Returns true with *out set, or false with "could not read the
 * WAL position of the source server: <reason>" in errbuf.
 */
bool repl_wal_position(PGconn *conn, lsn_t *out, char *errbuf,
					   size_t errlen);

/*
 * What pgoutput's publication must hold: the tables of source.tables
 * (SQL names: public."User"), and for the mirrors whole schemas (exact
 * names, config_mirror_schemas) or, for a mirror of every schema, all
 * tables, so that a table created later is published without walpipe.
 * Every pointer borrowed.
 */
struct repl_pub_scope {
	char *const *tables;
	size_t ntables;
	const char *const *schemas;
	size_t nschemas;
	bool all_tables;
};

/*
 * pgoutput's publication `name` over conn (plain, borrowed): it must
 * exist, publish inserts, updates, deletes and truncates, cover every
 * table of scope (itself or through a partitioned table, its schema or
 * FOR ALL TABLES) with no row filter or column list (walpipe would mirror
 * part of it), hold each of scope's schemas (FOR TABLES IN SCHEMA, 15+)
 * and be FOR ALL TABLES when scope asks for it.  With create
 * (source.create_slot), a missing publication is created (FOR ALL
 * TABLES, or FOR TABLES IN SCHEMA the schemas, TABLE the tables of
 * other schemas) and what is missing added, after checking that no
 * table it would publish lacks a replica identity (once published, the
 * source refuses its updates and deletes); *done then says what was
 * done, e.g. 'created publication "p" for source.tables' (empty when
 * nothing), for the caller to log.  Returns 1 when the publication is
 * right, 0 when not, with what is wrong and the SQL that fixes it (and
 * as which role to run it) in errbuf (2 instead when, without create,
 * only a publication, schemas or tables are missing: what create would
 * do), -1 when it could not tell ("could not look up the publication:
 * <libpq message>").  Does not log.  Call it before the slot is created:
 * pgoutput looks the publication up as of each change's position.
 */
int repl_publication_check(PGconn *conn, const char *name,
						   const struct repl_pub_scope *scope, bool create,
						   char *done, size_t donelen, char *errbuf,
						   size_t errlen);

/*
 * The prefix of walpipe's heartbeat: a non-transactional logical message
 * whose content is the source's now()::text.
 */
#define REPL_HEARTBEAT_PREFIX "walpipe_heartbeat"

/*
 * Emit the heartbeat message on the source over *conn, first connecting
 * it (pgconn_connect, application name "walpipe heartbeat") when it is
 * NULL or broken: the caller keeps *conn across calls and PQfinishes it
 * when done.  It makes WAL on an idle database and comes back through
 * the stream.  Returns true, or false with "could not emit heartbeat:
 * <libpq message>" in errbuf (*conn then stays, reconnected next call).
 */
bool repl_emit_heartbeat(PGconn **conn, const char *conninfo, char *errbuf,
						 size_t errlen);

/*
 * The prefix of the message `walpipe snapshot --table` emits after it
 * registered a backfill: its content is the source's name, and the
 * `walpipe run` of that source starts a new session to take it.
 */
#define REPL_BACKFILL_PREFIX "walpipe_backfill"

/* Emit a non-transactional message prefix/content on the source over
 * *conn, as repl_emit_heartbeat does; errbuf: "could not emit what: ...". */
bool repl_emit_message(PGconn **conn, const char *conninfo, const char *what,
					   const char *prefix, const char *content, char *errbuf,
					   size_t errlen);

#endif
