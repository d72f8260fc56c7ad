/* repl.c: the logical replication client: connect, check, start, stream, confirm. */
#include "walpipe/repl.h"
#include "walpipe/clock.h"

#include "walpipe/buf.h"
#include "walpipe/ident.h"
#include "walpipe/mem.h"
#include "walpipe/pgconn.h"
#include "walpipe/replproto.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct repl_stream {
	PGconn *conn;
	int status_interval_ms;
	char *copybuf;		   /* last PQgetCopyData buffer, freed next call */
	lsn_t received;		   /* highest position received */
	lsn_t confirmed;	   /* highest position the consumer applied */
	lsn_t sent_flush;	   /* flush position last sent */
	lsn_t keepalive_end;   /* walEnd of the last keepalive */
	lsn_t server_end;	   /* the server's WAL end, from any message */
	bool caught_up;		   /* consumer applied all received, no open txn */
	bool keepalive_after;  /* a keepalive arrived after the last data */
	bool streaming;		   /* START_REPLICATION succeeded: in CopyBoth */
	int64_t last_status;   /* monotonic ms of the last status update */
	uint64_t notices;	   /* server notices since repl_take_notices */
	char notice[512];	   /* the last one */
	/* Told of each notice as it arrives (repl_set_notice_hook). */
	void (*notice_hook)(void *arg, const char *message);
	void *notice_arg;
};

/*
 * Server notices on the replication connection are wal2json's warnings
 * while it decodes, e.g. "no tuple identifier for UPDATE in table ...":
 * a change it drops.  libpq would print each to stderr, past walpipe's
 * log; they are counted here instead, and the session logs them.
 */
static void
notice_receiver(void *arg, const PGresult *r)
{
	struct repl_stream *s = arg;
	const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);

	s->notices++;
	snprintf(s->notice, sizeof(s->notice), "%s: %s", sev ? sev : "NOTICE",
			 msg ? msg : "");
	if (s->notice_hook)
		s->notice_hook(s->notice_arg, msg ? msg : "");
}

void
repl_set_notice_hook(struct repl_stream *s,
					 void (*hook)(void *arg, const char *message), void *arg)
{
	s->notice_hook = hook;
	s->notice_arg = arg;
}

uint64_t
repl_take_notices(struct repl_stream *s, char *buf, size_t len)
{
	uint64_t n = s->notices;

	snprintf(buf, len, "%s", s->notice);
	s->notices = 0;
	return n;
}

static bool
slot_name_valid(const char *slot)
{
	size_t n = strlen(slot);

	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = slot[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

/* Append 'value' as a single-quoted replication-command literal. */
static void
append_option(struct buf *b, const char *name, const char *value)
{
	buf_appendf(b, "%s\"%s\" '", b->data[b->len - 1] == '(' ? "" : ", ",
				name);
	for (const char *p = value; *p; p++) {
		if (*p == '\'')
			buf_append_char(b, '\'');
		buf_append_char(b, *p);
	}
	buf_append_char(b, '\'');
}

const char *
repl_plugin_name(bool pgoutput)
{
	return pgoutput ? "pgoutput" : "wal2json";
}

/*
 * The slot checks, on the replication connection (which accepts simple
 * SQL queries since PostgreSQL 10).
 */
/* wal_level must be logical for any slot to decode. */
static enum repl_result
check_wal_level(PGconn *conn, char *errbuf, size_t errlen)
{
	PGresult *r = PQexec(conn, "SHOW wal_level");
	enum repl_result rc = REPL_OK;

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		pgconn_error(errbuf, errlen, "could not read wal_level", conn, NULL);
		rc = REPL_RETRY;
	} else if (strcmp(PQgetvalue(r, 0, 0), "logical") != 0) {
		snprintf(errbuf, errlen,
				 "logical decoding requires wal_level \"logical\", but the "
				 "source server has \"%s\"\n"
				 "Set wal_level = logical in the source's postgresql.conf "
				 "and restart it.",
				 PQgetvalue(r, 0, 0));
		rc = REPL_FATAL;
	}
	PQclear(r);
	return rc;
}

/* The slot does not exist: create it if the configuration says so. */
static enum repl_result
create_slot(struct repl_stream *s, const struct repl_config *cfg,
			struct repl_info *info, char *errbuf, size_t errlen)
{
	struct buf q = BUF_INIT;
	PGresult *r;
	enum repl_result rc = REPL_FATAL;

	if (!cfg->create_slot) {
		snprintf(errbuf, errlen,
				 "replication slot \"%s\" does not exist\n"
				 "Create it with --create-slot (or create_slot: true), "
				 "or SELECT pg_create_logical_replication_slot('%s', "
				 "'%s') on the source.",
				 cfg->slot, cfg->slot, repl_plugin_name(cfg->pgoutput));
		return REPL_FATAL;
	}
	/* SNAPSHOT 'nothing': a plain stream needs no exported snapshot. */
	buf_appendf(&q,
				"CREATE_REPLICATION_SLOT %s LOGICAL %s "
				"(SNAPSHOT 'nothing')",
				cfg->slot, repl_plugin_name(cfg->pgoutput));
	r = PQexec(s->conn, q.data);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		const char *st = pgconn_sqlstate(r);

		pgconn_error(errbuf, errlen, "could not create replication slot",
					 s->conn, NULL);
		if (strcmp(st, "58P01") == 0 && !cfg->pgoutput) /* no plugin */
			snprintf(errbuf + strlen(errbuf), errlen - strlen(errbuf),
					 "\nInstall wal2json on the source server (Debian: "
					 "postgresql-15-wal2json), or use source.plugin: "
					 "pgoutput.");
		else if (strcmp(st, "42710") == 0) /* created concurrently */
			rc = REPL_RETRY;
	} else {
		/* consistent_point is where the slot starts. */
		lsn_parse(PQgetvalue(r, 0, 1), &info->confirmed_flush, NULL, 0);
		info->slot_created = true;
		rc = REPL_OK;
	}
	PQclear(r);
	buf_free(&q);
	return rc;
}

/*
 * The slot's row of pg_replication_slots (plugin, slot_type, database,
 * database = current_database(), active_pid, confirmed_flush_lsn,
 * wal_status): a logical slot of the configured plugin and this
 * database, not lost, not in use.
 */
static enum repl_result
check_slot_row(const PGresult *r, const struct repl_config *cfg,
			   struct repl_info *info, char *errbuf, size_t errlen)
{
	const char *plugin = repl_plugin_name(cfg->pgoutput);

	if (strcmp(PQgetvalue(r, 0, 1), "logical") != 0) {
		snprintf(errbuf, errlen,
				 "replication slot \"%s\" is a physical slot; walpipe needs "
				 "a logical slot using %s",
				 cfg->slot, plugin);
		return REPL_FATAL;
	}
	if (strcmp(PQgetvalue(r, 0, 0), plugin) != 0) {
		snprintf(errbuf, errlen,
				 "replication slot \"%s\" uses output plugin \"%s\"; walpipe "
				 "needs \"%s\" (source.plugin)\n"
				 "Drop the slot and create it again with %s, or use "
				 "another slot name.",
				 cfg->slot, PQgetvalue(r, 0, 0), plugin, plugin);
		return REPL_FATAL;
	}
	if (strcmp(PQgetvalue(r, 0, 3), "t") != 0) {
		snprintf(errbuf, errlen,
				 "replication slot \"%s\" belongs to database \"%s\", not to "
				 "the database walpipe connected to",
				 cfg->slot, PQgetvalue(r, 0, 2));
		return REPL_FATAL;
	}
	if (strcmp(PQgetvalue(r, 0, 6), "lost") == 0) {
		snprintf(errbuf, errlen,
				 "replication slot \"%s\" has been invalidated: the server "
				 "removed WAL it still needed (max_slot_wal_keep_size)\n"
				 "Changes were lost. Recreate the slot and take a new "
				 "snapshot.",
				 cfg->slot);
		return REPL_FATAL;
	}
	if (!PQgetisnull(r, 0, 4)) {
		snprintf(errbuf, errlen,
				 "replication slot \"%s\" is active for PID %s",
				 cfg->slot, PQgetvalue(r, 0, 4));
		return REPL_RETRY;
	}
	if (!PQgetisnull(r, 0, 5))
		lsn_parse(PQgetvalue(r, 0, 5), &info->confirmed_flush, NULL, 0);
	return REPL_OK;
}

static enum repl_result
repl_check_slot(struct repl_stream *s, const struct repl_config *cfg,
				struct repl_info *info, char *errbuf, size_t errlen)
{
	enum repl_result rc = check_wal_level(s->conn, errbuf, errlen);
	PGresult *r;
	char *lit;
	struct buf q = BUF_INIT;

	if (rc != REPL_OK)
		return rc;
	lit = PQescapeLiteral(s->conn, cfg->slot, strlen(cfg->slot));
	buf_appendf(&q,
				"SELECT plugin, slot_type, database, database = "
				"current_database(), active_pid, confirmed_flush_lsn, "
				"wal_status FROM pg_catalog.pg_replication_slots WHERE "
				"slot_name = %s",
				lit);
	r = PQexec(s->conn, q.data);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		pgconn_error(errbuf, errlen, "could not look up replication slot",
					 s->conn, NULL);
		rc = REPL_RETRY;
	} else if (PQntuples(r) == 0)
		rc = create_slot(s, cfg, info, errbuf, errlen);
	else
		rc = check_slot_row(r, cfg, info, errbuf, errlen);
	PQclear(r);
	PQfreemem(lit);
	buf_free(&q);
	return rc;
}

/*
 * wal2json 2.6's option that sends the values of numeric types as JSON
 * strings: JSON has no NaN or Infinity, so without it wal2json sends
 * those of real, double precision and numeric as null.  2.5 (Debian 12)
 * refuses it in its startup callback with 22023 "option ... is unknown".
 */
#define NUMBERS_OPTION "numeric-data-types-as-string"

/*
 * START_REPLICATION with walpipe's wal2json options into q.  With
 * numbers as strings the type names come too: they tell the decoder
 * which strings were numbers (wal2json.h).
 */
static void
start_command(struct buf *q, const struct repl_config *cfg, lsn_t start,
			  bool numbers_as_strings)
{
	char lsnbuf[LSN_STRLEN];

	buf_reset(q, 4096);
	buf_appendf(q, "START_REPLICATION SLOT %s LOGICAL %s (", cfg->slot,
				lsn_format(start, lsnbuf));
	if (cfg->pgoutput) {
		/*
		 * Protocol 1: whole transactions at commit, as wal2json sends
		 * them (2 would stream large ones in progress, aborts included).
		 * The publication chooses the tables; messages: every logical
		 * message, walpipe's heartbeat among them.  The name is quoted:
		 * publication_names is a list of identifiers.
		 */
		struct buf n = BUF_INIT;

		buf_appendf(&n, "\"%s\"", cfg->publication);
		append_option(q, "proto_version", "1");
		append_option(q, "publication_names", n.data);
		append_option(q, "messages", "true");
		buf_append_char(q, ')');
		buf_free(&n);
		return;
	}
	append_option(q, "format-version", "2");
	append_option(q, "include-xids", "1");
	append_option(q, "include-timestamp", "1");
	append_option(q, "include-lsn", "1");
	append_option(q, "include-pk", "1");
	append_option(q, "include-types",
				  cfg->include_types || numbers_as_strings ? "1" : "0");
	if (numbers_as_strings)
		append_option(q, NUMBERS_OPTION, "1");
	if (cfg->tables && cfg->tables[0]) {
		struct buf t = BUF_INIT;

		buf_append_str(&t, cfg->tables);
		for (size_t i = 0; i < cfg->nall_of_schemas; i++) {
			buf_append_char(&t, ',');
			ident_append_w2j_all(&t, cfg->all_of_schemas[i]);
		}
		append_option(q, "add-tables", t.data);
		buf_free(&t);
	}
	if (cfg->prefixes && cfg->prefixes[0])
		append_option(q, "add-msg-prefixes", cfg->prefixes);
	buf_append_char(q, ')');
}

/*
 * The source is the cluster, and on the history, that walpipe's checkpoint
 * was written against.  A WAL position means nothing in another cluster;
 * on a later timeline it still holds if the source's history left the
 * checkpoint's timeline at or after it (a promoted standby that had all
 * of it); otherwise walpipe applied changes the source no longer has
 * (restored from a backup, or a standby promoted before receiving them),
 * and starting at the checkpoint would skip or mix up the rest.
 */
static enum repl_result
check_source(struct repl_stream *s, const struct repl_config *cfg,
			 const struct repl_info *info, char *errbuf, size_t errlen)
{
	static const char *way_out =
		"\nCheck source.conninfo.  If it is right, the analytics data no "
		"longer matches the source: empty the mapped tables, delete "
		"this source's row of walpipe's checkpoints table, and start "
		"walpipe again for a new initial snapshot.";
	char q[64], l1[LSN_STRLEN], l2[LSN_STRLEN];
	PGresult *r;
	lsn_t end;
	enum repl_result res = REPL_FATAL;

	if (cfg->system_id && cfg->system_id[0] &&
		strcmp(cfg->system_id, info->system_id) != 0) {
		snprintf(errbuf, errlen,
				 "the source server is cluster %s, but walpipe's checkpoint "
				 "was written for cluster %s: its WAL positions mean "
				 "nothing here%s",
				 info->system_id, cfg->system_id, way_out);
		return REPL_FATAL;
	}
	if (cfg->timeline <= 0 || cfg->timeline == info->timeline)
		return REPL_OK;
	if (cfg->timeline > info->timeline) {
		snprintf(errbuf, errlen,
				 "the source server is on timeline %d, before the timeline "
				 "%d of walpipe's checkpoint: it was restored from a backup "
				 "taken before changes walpipe applied%s",
				 info->timeline, cfg->timeline, way_out);
		return REPL_FATAL;
	}
	snprintf(q, sizeof(q), "TIMELINE_HISTORY %d", info->timeline);
	r = PQexec(s->conn, q);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 ||
		PQnfields(r) < 2) {
		pgconn_error(errbuf, errlen,
					 "could not read the source's timeline history", s->conn,
					 NULL);
		PQclear(r);
		return REPL_RETRY;
	}
	{
		/* content is bytea since PostgreSQL 16, text before. */
		const char *v = PQgetvalue(r, 0, 1);
		size_t n = (size_t) PQgetlength(r, 0, 1);
		unsigned char *raw = NULL;

		if (strncmp(v, "\\x", 2) == 0) {
			raw = PQunescapeBytea((const unsigned char *) v, &n);
			v = (const char *) raw;
		}
		if (v == NULL ||
			!replproto_timeline_end(v, n, cfg->timeline, &end)) {
			snprintf(errbuf, errlen,
					 "the source server's history (timeline %d) does not "
					 "contain timeline %d of walpipe's checkpoint: it is "
					 "another history of the cluster%s",
					 info->timeline, cfg->timeline, way_out);
		} else if (cfg->applied > end) {
			snprintf(errbuf, errlen,
					 "the source server's history left timeline %d at %s, "
					 "before walpipe's checkpoint %s: changes walpipe "
					 "applied are not in the source's history (restored "
					 "from a backup, or a standby promoted before it had "
					 "them)%s",
					 cfg->timeline, lsn_format(end, l1),
					 lsn_format(cfg->applied, l2), way_out);
		} else {
			res = REPL_OK;
		}
		PQfreemem(raw);
	}
	PQclear(r);
	return res;
}

/* IDENTIFY_SYSTEM: the cluster, its timeline and WAL position. */
static enum repl_result
identify_system(PGconn *conn, struct repl_info *info, char *errbuf,
				size_t errlen)
{
	PGresult *r = PQexec(conn, "IDENTIFY_SYSTEM");
	enum repl_result rc = REPL_OK;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 ||
		PQnfields(r) < 4) {
		pgconn_error(errbuf, errlen, "could not identify the source system",
					 conn, NULL);
		rc = REPL_RETRY;
	} else if (PQgetisnull(r, 0, 3)) {
		snprintf(errbuf, errlen,
				 "the source connection is not a database connection; the "
				 "conninfo must name a database");
		rc = REPL_FATAL;
	} else {
		snprintf(info->system_id, sizeof(info->system_id), "%s",
				 PQgetvalue(r, 0, 0));
		info->timeline = atoi(PQgetvalue(r, 0, 1));
		lsn_parse(PQgetvalue(r, 0, 2), &info->server_lsn, NULL, 0);
	}
	PQclear(r);
	return rc;
}

/*
 * START_REPLICATION at start; with wal2json before 2.6, which refuses
 * numeric-data-types-as-string (22023), again without it (the walsender
 * is still waiting for a command).  info->numbers_as_strings says which.
 */
static enum repl_result
start_streaming(struct repl_stream *s, const struct repl_config *cfg,
				lsn_t start, struct repl_info *info, char *errbuf,
				size_t errlen)
{
	struct buf q = BUF_INIT;
	enum repl_result rc = REPL_OK;

	/* pgoutput sends every value as its text: NaN and all. */
	info->numbers_as_strings = cfg->numbers_as_strings && !cfg->pgoutput;
	for (;;) {
		PGresult *r;
		const char *st;

		start_command(&q, cfg, start, info->numbers_as_strings);
		r = PQexec(s->conn, q.data);
		if (PQresultStatus(r) == PGRES_COPY_BOTH) {
			PQclear(r);
			break;
		}
		st = pgconn_sqlstate(r);
		if (info->numbers_as_strings && strcmp(st, "22023") == 0 &&
			strstr(PQerrorMessage(s->conn), NUMBERS_OPTION) != NULL) {
			info->numbers_as_strings = false;
			PQclear(r);
			continue;
		}
		pgconn_error(errbuf, errlen, "could not start replication",
					 s->conn, NULL);
		/* 55006 object_in_use: another walsender still holds the slot. */
		rc = (strcmp(st, "55006") == 0 || st[0] == '\0' ||
			  strncmp(st, "08", 2) == 0)
				 ? REPL_RETRY
				 : REPL_FATAL;
		PQclear(r);
		break;
	}
	buf_free(&q);
	return rc;
}

struct repl_stream *
repl_open(const struct repl_config *cfg, struct repl_info *info_out,
		  enum repl_result *res, char *errbuf, size_t errlen)
{
	struct repl_stream *s = wp_calloc(1, sizeof(*s));
	struct repl_info info;
	lsn_t start;

	memset(&info, 0, sizeof(info));
	*res = REPL_FATAL;
	if (!slot_name_valid(cfg->slot)) {
		snprintf(errbuf, errlen,
				 "invalid replication slot name \"%s\": use 1 to 63 lower "
				 "case letters, digits and underscores",
				 cfg->slot);
		goto fail;
	}
	s->status_interval_ms =
		cfg->status_interval_ms > 0 ? cfg->status_interval_ms : 10000;

	s->conn = pgconn_connect(cfg->conninfo, "walpipe", true);
	if (PQstatus(s->conn) != CONNECTION_OK) {
		pgconn_error(errbuf, errlen, "could not connect to the source server",
					 s->conn, NULL);
		*res = REPL_RETRY;
		goto fail;
	}
	PQsetNoticeReceiver(s->conn, notice_receiver, s);
	info.server_version = PQserverVersion(s->conn);
	if ((*res = identify_system(s->conn, &info, errbuf, errlen)) != REPL_OK ||
		(*res = check_source(s, cfg, &info, errbuf, errlen)) != REPL_OK ||
		(*res = repl_check_slot(s, cfg, &info, errbuf, errlen)) != REPL_OK)
		goto fail;

	/*
	 * The server starts at the greater of this and the slot's
	 * confirmed_flush_lsn, and always at a transaction's start.
	 */
	start = cfg->start != LSN_INVALID ? cfg->start : info.confirmed_flush;
	if ((*res = start_streaming(s, cfg, start, &info, errbuf, errlen)) !=
		REPL_OK)
		goto fail;
	s->streaming = true;
	s->received = s->confirmed = s->sent_flush = start;
	/*
	 * A first status at once, at the position the server streams from
	 * (never below the slot's): until one comes, the server counts the
	 * stream as a standby that flushed nothing (pg_stat_replication shows
	 * it async, and commits waiting for it as a synchronous standby wait
	 * for its status interval).
	 */
	if (info.confirmed_flush > s->sent_flush)
		s->sent_flush = info.confirmed_flush;
	if ((*res = repl_send_status(s, true, errbuf, errlen)) != REPL_OK)
		goto fail;
	if (info_out)
		*info_out = info;
	return s;

fail:
	repl_close(s);
	return NULL;
}

/* The position to report as flushed: what the consumer applied, or, when
 * it has caught up, the last keepalive's end (nothing pending before it). */
static lsn_t
repl_flush_position(const struct repl_stream *s)
{
	lsn_t flush = s->confirmed;

	if (s->caught_up && s->keepalive_after && s->keepalive_end > flush)
		flush = s->keepalive_end;
	if (flush < s->sent_flush)
		flush = s->sent_flush;
	return flush;
}

/*
 * Milliseconds until a status update is due: status_interval after the
 * last, or, once the consumer applied past what was last reported, soon:
 * a source whose synchronous_standby_names lists walpipe holds each
 * commit until then.  The short floor keeps `walpipe stream`, which
 * confirms every transaction, to one update per PROMPT_STATUS_MS.
 */
#define PROMPT_STATUS_MS 5

static int64_t
status_due_in(const struct repl_stream *s, int64_t now)
{
	return s->last_status - now +
		   (s->confirmed > s->sent_flush ? PROMPT_STATUS_MS
										 : s->status_interval_ms);
}

enum repl_result
repl_send_status(struct repl_stream *s, bool force, char *errbuf,
				 size_t errlen)
{
	char msg[REPLPROTO_STATUS_LEN];
	int64_t now = clock_mono_ms();
	lsn_t flush, write;

	if (!force && status_due_in(s, now) > 0)
		return REPL_OK;
	flush = repl_flush_position(s);
	write = s->received > flush ? s->received : flush;
	replproto_build_status(msg, write, flush, flush, clock_wall_us());
	if (PQputCopyData(s->conn, msg, sizeof(msg)) <= 0 ||
		PQflush(s->conn) != 0) {
		pgconn_error(errbuf, errlen, "could not send standby status update",
					 s->conn, NULL);
		return REPL_RETRY;
	}
	s->sent_flush = flush;
	s->last_status = now;
	return REPL_OK;
}

/*
 * The n bytes of CopyData in s->copybuf: a keepalive is taken in (and
 * answered when the server asks), XLogData fills out with *got set.
 */
static inline enum repl_result
take_copydata(struct repl_stream *s, int n, struct repl_data *out, bool *got,
			  char *errbuf, size_t errlen)
{
	struct replproto_msg m;

	if (!replproto_parse(s->copybuf, (size_t) n, &m, errbuf, errlen))
		return REPL_FATAL;
	if (m.wal_end > s->server_end)
		s->server_end = m.wal_end;
	if (m.kind == REPLPROTO_KEEPALIVE) {
		if (m.wal_end > s->keepalive_end)
			s->keepalive_end = m.wal_end;
		/*
		 * The walsender decodes in WAL order and sends a keepalive with
		 * the end of the records it has decoded: everything before it
		 * came first.  So it was received, also where no message was
		 * sent for it (pgoutput leaves out transactions that change
		 * nothing it publishes).  Only the write position says this.
		 */
		if (m.wal_end > s->received)
			s->received = m.wal_end;
		s->keepalive_after = true;
		return m.reply_requested ? repl_send_status(s, true, errbuf, errlen)
								 : REPL_OK;
	}
	if (m.data_start > s->received)
		s->received = m.data_start;
	s->caught_up = false;
	s->keepalive_after = false;
	out->data_start = m.data_start;
	out->wal_end = m.wal_end;
	out->payload = m.payload;
	out->len = m.payload_len;
	*got = true;
	return REPL_OK;
}

/* PQgetCopyData returned n < 0: the server ended the copy (-1, e.g. on
 * shutdown) or the connection failed (-2). */
static enum repl_result
copy_ended(struct repl_stream *s, int n, char *errbuf, size_t errlen)
{
	PGresult *r;

	if (n == -2) {
		pgconn_error(errbuf, errlen, "could not read replication data",
					 s->conn, NULL);
		return REPL_RETRY;
	}
	r = PQgetResult(s->conn);
	if (PQresultStatus(r) == PGRES_COMMAND_OK)
		snprintf(errbuf, errlen, "the source server ended replication");
	else
		pgconn_error(errbuf, errlen, "replication stream ended", s->conn,
					 NULL);
	PQclear(r);
	return REPL_RETRY;
}

/* Nothing buffered: sleep until data, the next status, or the caller's
 * deadline (< 0: none), whichever comes first.  REPL_OK: look again. */
static enum repl_result
wait_for_data(struct repl_stream *s, int64_t deadline, char *errbuf,
			  size_t errlen)
{
	int64_t now = clock_mono_ms();
	int64_t wait = status_due_in(s, now);
	struct pollfd pfd;
	int n;

	if (deadline >= 0 && deadline - now < wait)
		wait = deadline - now;
	if (wait < 0)
		wait = 0;
	pfd.fd = PQsocket(s->conn);
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (pfd.fd < 0) {
		snprintf(errbuf, errlen, "replication connection has no socket");
		return REPL_RETRY;
	}
	n = poll(&pfd, 1, (int) wait);
	if (n < 0 && errno == EINTR)
		return REPL_TIMEOUT; /* a signal: the caller checks flags */
	if (n < 0) {
		snprintf(errbuf, errlen, "could not wait for replication data: %s",
				 strerror(errno));
		return REPL_RETRY;
	}
	if (n > 0 && PQconsumeInput(s->conn) == 0) {
		pgconn_error(errbuf, errlen, "could not read replication data",
					 s->conn, NULL);
		return REPL_RETRY;
	}
	if (n == 0 && deadline >= 0 && clock_mono_ms() >= deadline)
		return REPL_TIMEOUT;
	return REPL_OK;
}

enum repl_result
repl_next(struct repl_stream *s, struct repl_data *out, int timeout_ms,
		  char *errbuf, size_t errlen)
{
	/* The clock is read only once there is nothing buffered: a busy
	 * stream takes many messages per read. */
	int64_t deadline = timeout_ms < 0 ? -1 : INT64_MAX;

	for (;;) {
		enum repl_result rc;
		bool got = false;
		int n;

		if (s->copybuf) {
			PQfreemem(s->copybuf);
			s->copybuf = NULL;
		}
		rc = repl_send_status(s, false, errbuf, errlen);
		if (rc != REPL_OK)
			return rc;
		n = PQgetCopyData(s->conn, &s->copybuf, 1);
		if (n > 0)
			rc = take_copydata(s, n, out, &got, errbuf, errlen);
		else if (n < 0)
			return copy_ended(s, n, errbuf, errlen);
		else {
			if (deadline == INT64_MAX)
				deadline = clock_mono_ms() + timeout_ms;
			rc = wait_for_data(s, deadline, errbuf, errlen);
		}
		if (rc != REPL_OK || got)
			return rc;
	}
}

void
repl_confirm(struct repl_stream *s, lsn_t lsn, bool caught_up)
{
	if (lsn > s->confirmed)
		s->confirmed = lsn;
	s->caught_up = caught_up;
}

lsn_t
repl_sent_flush(const struct repl_stream *s)
{
	return s->sent_flush;
}

lsn_t
repl_server_end(const struct repl_stream *s)
{
	return s->server_end;
}

lsn_t
repl_keepalive_end(const struct repl_stream *s)
{
	return s->keepalive_end;
}

bool
repl_sync_state(const struct repl_stream *s, PGconn *conn, char *state,
				size_t statelen, char *names, size_t nameslen, char *appname,
				size_t appnamelen, char *errbuf, size_t errlen)
{
	const char *app = PQparameterStatus(s->conn, "application_name");
	char pid[16];
	const char *param[1] = {pid};
	PGresult *r;
	bool ok;

	snprintf(pid, sizeof(pid), "%d", PQbackendPID(s->conn));
	r = PQexecParams(conn,
					 "SELECT coalesce((SELECT sync_state FROM "
					 "pg_catalog.pg_stat_replication WHERE pid = $1::int), ''), "
					 "pg_catalog.current_setting('synchronous_standby_names')",
					 1, NULL, param, NULL, NULL, 0);
	ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
	if (ok) {
		snprintf(state, statelen, "%s", PQgetvalue(r, 0, 0));
		snprintf(names, nameslen, "%s", PQgetvalue(r, 0, 1));
		snprintf(appname, appnamelen, "%s", app ? app : "");
	} else
		pgconn_error(errbuf, errlen,
					 "could not read whether walpipe is a synchronous standby",
					 conn, r);
	PQclear(r);
	return ok;
}

void
repl_close(struct repl_stream *s)
{
	char err[256];

	if (s == NULL)
		return;
	if (s->copybuf)
		PQfreemem(s->copybuf);
	if (s->streaming && PQstatus(s->conn) == CONNECTION_OK) {
		/* Final status so the slot keeps what we applied, then end copy. */
		if (repl_send_status(s, true, err, sizeof(err)) == REPL_OK &&
			PQputCopyEnd(s->conn, NULL) == 1) {
			PGresult *r;

			PQflush(s->conn);
			/* Drain: the server answers CopyDone, then the command result. */
			while ((r = PQgetResult(s->conn)) != NULL) {
				ExecStatusType st = PQresultStatus(r);

				PQclear(r);
				if (st == PGRES_COPY_BOTH || st == PGRES_COPY_OUT) {
					char *buf;

					while (PQgetCopyData(s->conn, &buf, 0) > 0)
						PQfreemem(buf);
				}
			}
		}
	}
	PQfinish(s->conn);
	free(s);
}

struct repl_export {
	PGconn *conn;
	char snapshot[64];
	lsn_t lsn;
};

struct repl_export *
repl_export_open(const char *conninfo, const char *slot, bool pgoutput,
				 bool temporary, enum repl_result *res, char *errbuf,
				 size_t errlen)
{
	struct repl_export *e = wp_calloc(1, sizeof(*e));
	struct buf q = BUF_INIT;
	PGresult *r = NULL;

	*res = REPL_FATAL;
	if (!slot_name_valid(slot)) {
		snprintf(errbuf, errlen, "invalid replication slot name \"%s\"", slot);
		goto fail;
	}
	e->conn = pgconn_connect(conninfo, "walpipe snapshot", true);
	if (PQstatus(e->conn) != CONNECTION_OK) {
		pgconn_error(errbuf, errlen, "could not connect to the source server",
					 e->conn, NULL);
		*res = REPL_RETRY;
		goto fail;
	}
	buf_appendf(&q,
				"CREATE_REPLICATION_SLOT %s %sLOGICAL %s "
				"(SNAPSHOT 'export')",
				slot, temporary ? "TEMPORARY " : "",
				repl_plugin_name(pgoutput));
	r = PQexec(e->conn, q.data);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 ||
		PQnfields(r) < 3 || PQgetisnull(r, 0, 2)) {
		const char *st = pgconn_sqlstate(r);
		char what[160];

		snprintf(what, sizeof(what),
				 "could not create replication slot \"%s\" with an exported "
				 "snapshot",
				 slot);
		pgconn_error(errbuf, errlen, what, e->conn, NULL);
		if (st[0] == '\0' || strncmp(st, "08", 2) == 0 ||
			strcmp(st, "42710") == 0 || strcmp(st, "53400") == 0)
			*res = REPL_RETRY;
		goto fail;
	}
	lsn_parse(PQgetvalue(r, 0, 1), &e->lsn, NULL, 0);
	snprintf(e->snapshot, sizeof(e->snapshot), "%s", PQgetvalue(r, 0, 2));
	PQclear(r);
	buf_free(&q);
	*res = REPL_OK;
	return e;

fail:
	PQclear(r);
	buf_free(&q);
	repl_export_close(e);
	return NULL;
}

const char *
repl_export_snapshot(const struct repl_export *e)
{
	return e->snapshot;
}

lsn_t
repl_export_lsn(const struct repl_export *e)
{
	return e->lsn;
}

void
repl_export_close(struct repl_export *e)
{
	if (e == NULL)
		return;
	PQfinish(e->conn);
	free(e);
}

/* Run sql with one parameter; true on a result with rows (or a command). */
static bool
probe_exec(PGconn *conn, const char *sql, const char *param, PGresult **out)
{
	*out = PQexecParams(conn, sql, param ? 1 : 0, NULL, &param, NULL, NULL,
						0);
	return PQresultStatus(*out) == PGRES_TUPLES_OK ||
		   PQresultStatus(*out) == PGRES_COMMAND_OK;
}

int
repl_probe_numbers_as_strings(PGconn *conn, const char *slot, char *errbuf,
							  size_t errlen)
{
	/*
	 * Peeking runs wal2json's startup callback with the options, and
	 * consumes nothing.  The slot itself when it is idle; otherwise a
	 * temporary slot, whose creation waits for the transactions running
	 * on the source (bounded by the statement timeout).
	 */
	static const char *idle =
		"SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = $1 "
		"   AND plugin = 'wal2json' AND NOT active";
	static const char *peek =
		"SELECT count(*) FROM pg_catalog.pg_logical_slot_peek_changes($1, "
		"       NULL, 1, 'format-version', '2', '" NUMBERS_OPTION "', '1')";
	char tmp[64];
	const char *use = slot;
	bool temporary = false;
	PGresult *r = NULL;
	int res = -1;

	if (!probe_exec(conn, idle, slot, &r))
		goto error;
	if (PQntuples(r) == 0) {
		snprintf(tmp, sizeof(tmp), "walpipe_probe_%d", PQbackendPID(conn));
		use = tmp;
		PQclear(r);
		if (!probe_exec(conn, "SET statement_timeout = '5s'", NULL, &r))
			goto error;
		PQclear(r);
		if (!probe_exec(conn,
						"SELECT pg_catalog.pg_create_logical_replication_slot("
						"$1, 'wal2json', true)",
						use, &r))
			goto error;
		temporary = true;
	}
	PQclear(r);
	if (probe_exec(conn, peek, use, &r)) {
		res = 1;
	} else if (strcmp(pgconn_sqlstate(r), "22023") == 0 &&
			   strstr(PQerrorMessage(conn), NUMBERS_OPTION) != NULL) {
		res = 0;
	} else {
		goto error;
	}
	goto done;
error:
	snprintf(errbuf, errlen, "%s", PQerrorMessage(conn));
	errbuf[strcspn(errbuf, "\n")] = '\0';
done:
	PQclear(r);
	/* An error in the session has dropped a temporary slot already. */
	if (temporary && res == 1) {
		PQclear(PQexecParams(conn,
							 "SELECT pg_catalog.pg_drop_replication_slot($1)",
							 1, NULL, &use, NULL, NULL, 0));
	}
	PQclear(PQexec(conn, "RESET statement_timeout"));
	return res;
}


int
repl_slot_exists(const char *conninfo, const char *slot, char *errbuf,
				 size_t errlen)
{
	const char *params[1] = {slot};
	PGconn *conn = pgconn_connect(conninfo, "walpipe", false);
	PGresult *r = NULL;
	int found = -1;

	if (PQstatus(conn) == CONNECTION_OK)
		r = PQexecParams(conn,
						 "SELECT count(*) FROM pg_catalog.pg_replication_slots "
						 "WHERE slot_name = $1",
						 1, NULL, params, NULL, NULL, 0);
	if (r && PQresultStatus(r) == PGRES_TUPLES_OK)
		found = strcmp(PQgetvalue(r, 0, 0), "0") != 0;
	else
		snprintf(errbuf, errlen,
				 "could not look up replication slot \"%s\": %s", slot,
				 PQerrorMessage(conn));
	PQclear(r);
	PQfinish(conn);
	return found;
}

bool
repl_wal_position(PGconn *conn, lsn_t *out, char *errbuf, size_t errlen)
{
	PGresult *r = PQexec(conn,
						 "SELECT CASE WHEN pg_catalog.pg_is_in_recovery() "
						 "THEN pg_catalog.pg_last_wal_replay_lsn() "
						 "ELSE pg_catalog.pg_current_wal_lsn() END");
	bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && !PQgetisnull(r, 0, 0) &&
			  lsn_parse(PQgetvalue(r, 0, 0), out, NULL, 0);

	if (!ok)
		snprintf(errbuf, errlen,
				 "could not read the WAL position of the source server: %s",
				 PQresultStatus(r) == PGRES_TUPLES_OK ? "no position"
													  : PQerrorMessage(conn));
	PQclear(r);
	return ok;
}

bool
repl_emit_message(PGconn **conn, const char *conninfo, const char *what,
				  const char *prefix, const char *content, char *errbuf,
				  size_t errlen)
{
	const char *p[2] = {prefix, content};
	PGresult *r;
	bool ok;

	if (*conn == NULL || PQstatus(*conn) != CONNECTION_OK) {
		PQfinish(*conn);
		*conn = pgconn_connect(conninfo, "walpipe", false);
	}
	r = PQexecParams(*conn,
					 "SELECT pg_catalog.pg_logical_emit_message(false, $1, $2)",
					 2, NULL, p, NULL, NULL, 0);
	ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		snprintf(errbuf, errlen, "could not emit %s: %s", what,
				 PQerrorMessage(*conn));
	PQclear(r);
	return ok;
}

bool
repl_emit_heartbeat(PGconn **conn, const char *conninfo, char *errbuf,
					size_t errlen)
{
	PGresult *r;
	bool ok;

	if (*conn == NULL || PQstatus(*conn) != CONNECTION_OK) {
		PQfinish(*conn);
		*conn = pgconn_connect(conninfo, "walpipe heartbeat", false);
	}
	r = PQexec(*conn, "SELECT pg_catalog.pg_logical_emit_message(false, "
					  "'" REPL_HEARTBEAT_PREFIX "', pg_catalog.now()::text)");
	ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		snprintf(errbuf, errlen, "could not emit heartbeat: %s",
				 PQerrorMessage(*conn));
	PQclear(r);
	return ok;
}

/*
 * pgoutput's publication.  A table is covered when it, or a partitioned
 * table it is a partition of, is in the publication, directly or by its
 * schema (FOR TABLES IN SCHEMA), or when the publication is FOR ALL
 * TABLES.  $1 the publication, $2 the table's SQL name.  Columns: the
 * table exists, it is covered (pg_partition_ancestors has no row for a
 * table that is not a partition), a row filter or column list applies to it
 * (PostgreSQL 15), it has no replica identity (updates and deletes of it
 * would fail on the source once published), its schema.
 */
static const char *const pub_table_sql =
	"SELECT c.oid IS NOT NULL, "
	" p.puballtables OR EXISTS (SELECT 1 FROM pg_catalog.pg_publication_rel "
	"  pr WHERE pr.prpubid = p.oid AND pr.prrelid IN (SELECT c.oid UNION "
	"  SELECT relid FROM pg_catalog.pg_partition_ancestors(c.oid))) OR "
	"  EXISTS (SELECT 1 FROM "
	"  pg_catalog.pg_publication_namespace pn JOIN pg_catalog.pg_class a ON "
	"  a.relnamespace = pn.pnnspid WHERE pn.pnpubid = p.oid AND a.oid IN "
	"  (SELECT c.oid UNION SELECT relid FROM "
	"  pg_catalog.pg_partition_ancestors(c.oid))), "
	" EXISTS (SELECT 1 FROM pg_catalog.pg_publication_rel pr WHERE "
	"  pr.prpubid = p.oid AND pr.prrelid IN (SELECT c.oid UNION SELECT "
	"  relid FROM pg_catalog.pg_partition_ancestors(c.oid)) AND "
	"  (pr.prqual IS NOT NULL "
	"  OR pr.prattrs IS NOT NULL)), "
	" c.relkind <> 'p' AND (c.relreplident = 'n' OR (c.relreplident = 'd' "
	"  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE "
	"  i.indrelid = c.oid AND i.indisprimary))), "
	" (SELECT nspname FROM pg_catalog.pg_namespace WHERE oid = "
	"  c.relnamespace) "
	"FROM (SELECT $1::text AS pubname) n "
	"LEFT JOIN pg_catalog.pg_publication p ON p.pubname = n.pubname "
	"LEFT JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass($2)";

/* Whether publication $1 holds schema $2 (FOR TABLES IN SCHEMA). */
static const char *const pub_schema_sql =
	"SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_publication_namespace pn "
	"JOIN pg_catalog.pg_publication p ON p.oid = pn.pnpubid "
	"JOIN pg_catalog.pg_namespace n ON n.oid = pn.pnnspid "
	"WHERE p.pubname = $1 AND n.nspname = $2)";

/*
 * The tables that publishing every schema ($1) or the schemas $2 (a
 * text[]) would publish without a replica identity: once published, the
 * source refuses their updates and deletes ("cannot update table ...
 * because it does not have a replica identity and publishes updates").
 * Columns: their SQL names, and the statements that give each one.  NULL
 * when there is none.  Partitioned tables are left out: their partitions
 * hold the rows and are listed.
 */
static const char *const pub_keyless_sql =
	"SELECT pg_catalog.string_agg(pg_catalog.format('%I.%I', n.nspname, "
	"  c.relname), ', ' ORDER BY n.nspname, c.relname), "
	" pg_catalog.string_agg(pg_catalog.format("
	"  'ALTER TABLE %I.%I REPLICA IDENTITY FULL;', n.nspname, c.relname), "
	"  ' ' ORDER BY n.nspname, c.relname) "
	"FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON "
	" n.oid = c.relnamespace "
	"WHERE c.relkind = 'r' AND c.relpersistence = 'p' "
	" AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' "
	" AND ($1::bool OR n.nspname = ANY ($2::text[])) "
	" AND NOT (c.relreplident = 'f' OR EXISTS (SELECT 1 FROM "
	"  pg_catalog.pg_index i WHERE i.indrelid = c.oid AND "
	"  CASE c.relreplident WHEN 'd' THEN i.indisprimary "
	"  WHEN 'i' THEN i.indisreplident ELSE false END))";

/* What a publication lacks, or all it holds when it is to be created:
 * FOR ALL TABLES, schemas and tables (names borrowed). */
struct pub_part {
	bool all;
	const char **schemas;
	size_t nschemas;
	char **tables; /* SQL names */
	size_t ntables;
};

/* "CREATE PUBLICATION q FOR ..." or "ALTER PUBLICATION q ADD ..." of
 * part into b. */
static void
publication_sql(struct buf *b, bool create, const char *qname,
				const struct pub_part *part)
{
	buf_appendf(b, "%s PUBLICATION %s %s ", create ? "CREATE" : "ALTER",
				qname, create ? "FOR" : "ADD");
	if (part->all) {
		buf_appendf(b, "ALL TABLES");
		return;
	}
	for (size_t i = 0; i < part->nschemas; i++) {
		char *q = pgconn_quote_ident(part->schemas[i]);

		buf_appendf(b, "%s%s", i ? ", " : "TABLES IN SCHEMA ", q);
		free(q);
	}
	for (size_t i = 0; i < part->ntables; i++)
		buf_appendf(b, "%s%s",
					i ? ", " : (part->nschemas ? ", TABLE " : "TABLE "),
					part->tables[i]);
}

/* The names of part's schemas, ", "-separated, into b (for messages:
 * ident_append's form). */
static void
schema_list(struct buf *b, const struct pub_part *part)
{
	for (size_t i = 0; i < part->nschemas; i++) {
		buf_appendf(b, "%s", i ? ", " : "");
		ident_append(b, part->schemas[i]);
	}
}

/* v[0..n) as a text[] literal ("{"a","b\\"c"}") into b. */
static void
append_text_array(struct buf *b, const char *const *v, size_t n)
{
	buf_appendf(b, "{");
	for (size_t i = 0; i < n; i++) {
		buf_appendf(b, "%s\"", i ? "," : "");
		for (const char *c = v[i]; *c; c++)
			buf_appendf(b, "%s%c", *c == '"' || *c == '\\' ? "\\" : "", *c);
		buf_appendf(b, "\"");
	}
	buf_appendf(b, "}");
}

/*
 * Whether the current role may run what part asks: FOR ALL TABLES and
 * FOR TABLES IN SCHEMA are a superuser's, FOR TABLE the owner's of each
 * table; CREATE PUBLICATION also needs CREATE on the database, ALTER
 * the publication's ownership.  $1: whether the publication is created,
 * $2: whether the statement publishes schemas or all tables, $3: the
 * tables (text[] of SQL names), $4: the publication.  Column: the role's
 * name when it may not, else NULL.
 */
static const char *const pub_may_sql =
	"SELECT CASE WHEN r.rolsuper OR (NOT $2::bool AND "
	"  ($1::bool OR EXISTS (SELECT 1 FROM pg_catalog.pg_publication p "
	"   WHERE p.pubname = $4 AND pg_catalog.pg_has_role(p.pubowner, "
	"   'USAGE'))) AND "
	"  (NOT $1::bool OR pg_catalog.has_database_privilege("
	"   pg_catalog.current_database(), 'CREATE')) AND "
	"  (SELECT COALESCE(pg_catalog.bool_and("
	"   pg_catalog.pg_has_role(c.relowner, 'USAGE')), true) FROM "
	"   pg_catalog.unnest($3::text[]) t JOIN pg_catalog.pg_class c ON "
	"   c.oid = pg_catalog.to_regclass(t))) "
	" THEN NULL ELSE r.rolname END "
	"FROM pg_catalog.pg_roles r WHERE r.rolname = current_user";

/*
 * Refuse, with the statement in errbuf and as which role to run it, what
 * the current role could not do (sql) for part: create the publication,
 * or add what (the missing tables and schemas, for the message).  Returns 1 when it may,
 * 0 when not (or on an error), -1 to retry.
 */
static int
pub_check_may(PGconn *conn, const char *name, bool create,
			  const struct pub_part *part, const char *what, const char *sql,
			  const char *as, char *errbuf, size_t errlen)
{
	struct buf arr = BUF_INIT;
	PGresult *r = NULL;
	const char *params[4];
	enum pgconn_outcome oc;
	int ret = 1;

	append_text_array(&arr, (const char *const *) part->tables,
					  part->ntables);
	params[0] = create ? "true" : "false";
	params[1] = part->all || part->nschemas ? "true" : "false";
	params[2] = arr.data;
	params[3] = name;
	oc = pgconn_exec_params(conn, pub_may_sql, 4, params,
							"could not look up the publication", &r, errbuf,
							errlen);
	if (oc != PGCONN_OK)
		ret = oc == PGCONN_RETRY ? -1 : 0;
	else if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
		const char *why =
			part->all || part->nschemas
				? "FOR ALL TABLES and FOR TABLES IN SCHEMA are a superuser's"
				: "FOR TABLE needs the ownership of each table (and CREATE "
				  "on the database)";

		if (create)
			snprintf(errbuf, errlen,
					 "publication \"%s\" does not exist, and role \"%s\" "
					 "cannot create it: %s\n%s; on the source %s, then start "
					 "walpipe again.",
					 name, PQgetvalue(r, 0, 0), why, sql, as);
		else
			snprintf(errbuf, errlen,
					 "publication \"%s\" does not publish %s, and role "
					 "\"%s\" cannot add %s: %s\n%s; on the source %s, then "
					 "start walpipe again.",
					 name, what, PQgetvalue(r, 0, 0),
					 part->ntables + part->nschemas > 1 ? "them" : "it", why,
					 sql, as);
		ret = 0;
	}
	PQclear(r);
	buf_free(&arr);
	return ret;
}

/*
 * Refuse, with the list and the fix in errbuf, to publish part's schemas
 * (or every schema) while they hold tables without a replica identity.
 * Returns 1 when there is none, 0 when there are, -1 or 0 when the
 * catalog could not be read (retry or not).
 */
static int
pub_check_keyless(PGconn *conn, const char *name, const struct pub_part *part,
				  char *errbuf, size_t errlen)
{
	struct buf arr = BUF_INIT, where = BUF_INIT;
	PGresult *r = NULL;
	const char *params[2];
	enum pgconn_outcome oc;
	int ret = 1;

	append_text_array(&arr, part->schemas, part->nschemas);
	params[0] = part->all ? "true" : "false";
	params[1] = arr.data;
	oc = pgconn_exec_params(conn, pub_keyless_sql, 2, params,
							"could not look up the publication", &r, errbuf,
							errlen);
	if (oc != PGCONN_OK)
		ret = oc == PGCONN_RETRY ? -1 : 0;
	else if (!PQgetisnull(r, 0, 0)) {
		if (part->all)
			buf_appendf(&where, "every schema");
		else {
			buf_appendf(&where, "schema%s ", part->nschemas > 1 ? "s" : "");
			schema_list(&where, part);
		}
		snprintf(errbuf, errlen,
				 "cannot publish %s for the mirrors: tables %s have no "
				 "replica identity, and once published the source would "
				 "refuse their updates and deletes (\"cannot update table "
				 "... because it does not have a replica identity and "
				 "publishes updates\")\n%s on the source (or give each a "
				 "primary key), or create publication \"%s\" yourself.",
				 where.data, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), name);
		ret = 0;
	}
	PQclear(r);
	buf_free(&arr);
	buf_free(&where);
	return ret;
}

/*
 * Run publication lookup sql with $1 name and $2 arg (none when NULL) into
 * *r, clearing the result before.  Returns true when it ran; otherwise
 * errbuf says why and *ret is -1 to retry, 0 not.
 */
static bool
pub_lookup(PGconn *conn, const char *sql, const char *name, const char *arg,
		   PGresult **r, int *ret, char *errbuf, size_t errlen)
{
	const char *params[2] = {name, arg};
	enum pgconn_outcome oc;

	PQclear(*r);
	*r = NULL;
	oc = pgconn_exec_params(conn, sql, arg ? 2 : 1, params,
							"could not look up the publication", r, errbuf,
							errlen);
	if (oc != PGCONN_OK)
		*ret = oc == PGCONN_RETRY ? -1 : 0;
	return oc == PGCONN_OK;
}

int
repl_publication_check(PGconn *conn, const char *name,
					   const struct repl_pub_scope *scope, bool create,
					   char *done, size_t donelen, char *errbuf,
					   size_t errlen)
{
	char *qname = pgconn_quote_ident(name);
	size_t n = scope->ntables;
	struct pub_part miss = {false, NULL, 0, NULL, 0};
	struct buf q = BUF_INIT, list = BUF_INIT, exec = BUF_INIT;
	PGresult *r = NULL;
	int ret = 0, exists, all = 0;
	enum pgconn_outcome oc;
	const char *superuser;
	size_t len;

	miss.tables = wp_calloc(n ? n : 1, sizeof(*miss.tables));
	miss.schemas = wp_calloc(scope->nschemas ? scope->nschemas : 1,
							 sizeof(*miss.schemas));
	if (done && donelen)
		done[0] = '\0';
	if (!pub_lookup(conn,
					"SELECT pubinsert AND pubupdate AND pubdelete AND "
					"pubtruncate, puballtables FROM "
					"pg_catalog.pg_publication WHERE pubname = $1",
					name, NULL, &r, &ret, errbuf, errlen))
		goto out;
	exists = PQntuples(r);
	if (exists && strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
		snprintf(errbuf, errlen,
				 "publication \"%s\" does not publish every action walpipe "
				 "mirrors\nALTER PUBLICATION %s SET (publish = 'insert, "
				 "update, delete, truncate') on the source.",
				 name, qname);
		goto out;
	}
	all = exists && strcmp(PQgetvalue(r, 0, 1), "t") == 0;
	/* A table created later in a mirrored schema must be published
	 * without walpipe's help: only the publication's own scope does it,
	 * since pgoutput reads it as of each change's position. */
	if (scope->all_tables && exists && !all) {
		snprintf(errbuf, errlen,
				 "publication \"%s\" is not FOR ALL TABLES, which a mirror "
				 "of every schema needs (a table created later in any "
				 "schema must be published)\nDROP PUBLICATION %s; CREATE "
				 "PUBLICATION %s FOR ALL TABLES; on the source as a "
				 "superuser, before the slot is created.",
				 name, qname, qname);
		goto out;
	}
	if (scope->nschemas && !all && PQserverVersion(conn) < 150000) {
		/* FOR TABLES IN SCHEMA is PostgreSQL 15's: only FOR ALL TABLES
		 * publishes a table created later. */
		snprintf(errbuf, errlen,
				 "publication \"%s\" cannot hold whole schemas on PostgreSQL "
				 "%d (FOR TABLES IN SCHEMA is 15's), and a mirror needs them "
				 "(a table created later must be published)\n%s%s%sCREATE "
				 "PUBLICATION %s FOR ALL TABLES; on the source as a "
				 "superuser.",
				 name, PQserverVersion(conn), exists ? "DROP PUBLICATION " : "",
				 exists ? qname : "", exists ? "; " : "", qname);
		goto out;
	}
	miss.all = scope->all_tables && !all;
	for (size_t i = 0; i < scope->nschemas && !all; i++) {
		if (exists) {
			if (!pub_lookup(conn, pub_schema_sql, name, scope->schemas[i],
							&r, &ret, errbuf, errlen))
				goto out;
			if (strcmp(PQgetvalue(r, 0, 0), "t") == 0)
				continue;
		}
		miss.schemas[miss.nschemas++] = scope->schemas[i];
	}
	for (size_t i = 0; i < n; i++) {
		bool by_schema = scope->all_tables;

		if (!pub_lookup(conn, pub_table_sql, name, scope->tables[i], &r,
						&ret, errbuf, errlen))
			goto out;
		if (strcmp(PQgetvalue(r, 0, 0), "t") != 0)
			continue; /* no such table: the mappings' checks say so */
		if (strcmp(PQgetvalue(r, 0, 2), "t") == 0) {
			snprintf(errbuf, errlen,
					 "publication \"%s\" has a row filter or a column list "
					 "for table %s: walpipe would mirror only part of it\n"
					 "ALTER PUBLICATION %s SET TABLE without WHERE and "
					 "column lists, or use another publication.",
					 name, scope->tables[i], qname);
			goto out;
		}
		if (create && strcmp(PQgetvalue(r, 0, 3), "t") == 0) {
			snprintf(errbuf, errlen,
					 "table %s has no replica identity: once published, "
					 "its updates and deletes would fail on the source\n"
					 "Give it a primary key or REPLICA IDENTITY FULL, or "
					 "create publication \"%s\" yourself.",
					 scope->tables[i], name);
			goto out;
		}
		/* Its schema, published whole, covers it (and PostgreSQL refuses
		 * a table whose schema the same statement publishes). */
		for (size_t k = 0; k < scope->nschemas && !by_schema; k++)
			by_schema = strcmp(scope->schemas[k], PQgetvalue(r, 0, 4)) == 0;
		if (!by_schema && (!exists || strcmp(PQgetvalue(r, 0, 1), "t") != 0))
			miss.tables[miss.ntables++] = scope->tables[i];
	}
	if (miss.ntables == 0 && miss.nschemas == 0 && !miss.all && exists) {
		ret = 1;
		goto out;
	}
	if (!exists && miss.ntables == 0 && miss.nschemas == 0 && !miss.all) {
		snprintf(errbuf, errlen,
				 "publication \"%s\" does not exist, and without "
				 "source.tables walpipe cannot say which tables it "
				 "publishes\nCREATE PUBLICATION %s FOR TABLES IN SCHEMA ... "
				 "(or FOR ALL TABLES) on the source.",
				 name, qname);
		goto out;
	}
	if ((miss.all || miss.nschemas) &&
		(ret = pub_check_keyless(conn, name, &miss, errbuf, errlen)) != 1)
		goto out;
	ret = 0;
	publication_sql(&q, !exists, qname, &miss);
	for (size_t i = 0; i < miss.ntables; i++)
		buf_appendf(&list, "%s%s", i ? ", " : "", miss.tables[i]);
	if (miss.nschemas) {
		buf_appendf(&list, "%sschema%s ", miss.ntables ? " and " : "",
					miss.nschemas > 1 ? "s" : "");
		schema_list(&list, &miss);
	}
	/* FOR ALL TABLES and FOR TABLES IN SCHEMA are a superuser's;
	 * FOR TABLE the owner's of each table. */
	superuser = miss.all || miss.nschemas
					? "as a superuser"
					: "as the owner of the tables (or a superuser)";
	/* Said before trying, so that check --live says it too. */
	if ((ret = pub_check_may(conn, name, !exists, &miss, list.data, q.data,
							 superuser, errbuf, errlen)) != 1)
		goto out;
	ret = 0;
	if (!create) {
		ret = 2; /* what create would do */
		if (!exists)
			snprintf(errbuf, errlen,
					 "publication \"%s\" does not exist\n%s; on the source "
					 "%s, or set source.create_slot: true.",
					 name, q.data, superuser);
		else
			snprintf(errbuf, errlen,
					 "publication \"%s\" does not publish %s%s: none of "
					 "their changes would reach walpipe\n%s; on the source "
					 "%s.",
					 name,
					 miss.ntables == 0   ? ""
					 : miss.ntables == 1 ? "table "
										 : "tables ",
					 list.data, q.data, superuser);
		goto out;
	}
	PQclear(r);
	r = NULL;
	/*
	 * Committed without waiting for synchronous standbys: with walpipe's
	 * own name in synchronous_standby_names, the commit would wait for a
	 * stream that starts only after it (one implicit transaction: the
	 * setting ends with it).
	 */
	buf_reset(&exec, 1024);
	buf_appendf(&exec,
				"SELECT pg_catalog.set_config('synchronous_commit', 'local', "
				"true); %s",
				q.data);
	oc = pgconn_exec(conn, exec.data,
					 exists ? "could not add to the publication"
							: "could not create the publication",
					 NULL, errbuf, errlen);
	if (oc != PGCONN_OK) {
		ret = oc == PGCONN_RETRY ? -1 : 0;
		len = strlen(errbuf);
		if (ret == 0 && len < errlen)
			snprintf(errbuf + len, errlen - len,
					 "\n%s; on the source %s, then start walpipe again.",
					 q.data, superuser);
		goto out;
	}
	if (done && donelen) {
		if (miss.all || miss.nschemas)
			snprintf(done, donelen, "%s publication \"%s\": %s",
					 exists ? "added to" : "created", name, q.data);
		else
			snprintf(done, donelen, "%s publication \"%s\" for %s",
					 exists ? "added to" : "created", name,
					 exists ? list.data : "source.tables");
	}
	ret = 1;
out:
	PQclear(r);
	free(qname);
	free(miss.tables);
	free(miss.schemas);
	buf_free(&q);
	buf_free(&list);
	buf_free(&exec);
	return ret;
}
