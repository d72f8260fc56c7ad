/* cmd_snapshot.c: `walpipe snapshot --table`: ask `walpipe run` to backfill one table online, and watch it. */
#include "walpipe/buf.h"
#include "walpipe/clock.h"
#include "walpipe/commands.h"
#include "walpipe/config.h"
#include "walpipe/ident.h"
#include "walpipe/log.h"
#include "walpipe/repl.h"
#include "walpipe/settings.h"
#include "walpipe/sink_pg.h"
#include "walpipe/snapshot.h"

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t snapshot_stop = 0;

static void
on_stop(int sig)
{
	(void) sig;
	snapshot_stop = 1;
}

/* Parse argv: -c FILE (*path) and --table (*table).  -1 to go on, else
 * the exit status. */
static int
snapshot_parse_args(int argc, char **argv, const char **path,
					const char **table, bool *wait)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"table", required_argument, NULL, 't'},
		{"no-wait", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:t:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': *path = optarg; break;
		case 't': *table = optarg; break;
		case 'n': *wait = false; break;
		case 'h':
			printf("Usage: walpipe snapshot -c FILE --table SCHEMA.TABLE "
				   "[--no-wait]\n\n"
				   "SCHEMA.TABLE as in the mappings' from: key, e.g. "
				   "public.users or\n"
				   "'public.\"User\"' (quoted names are exact).\n\n"
				   "Ask the running walpipe run to copy the existing rows of "
				   "one source table\n"
				   "through its mappings again (an online backfill): it "
				   "copies the table in\n"
				   "chunks between the stream's transactions, without "
				   "pausing the stream, and\n"
				   "no concurrent change is lost or applied twice. Waits "
				   "until it is done,\n"
				   "showing the progress, unless --no-wait; walpipe status "
				   "shows it too.\n");
			return 0;
		default:
			fprintf(stderr, "Try 'walpipe snapshot --help'.\n");
			return 2;
		}
	}
	if (*path == NULL || *table == NULL || optind < argc) {
		fprintf(stderr,
				"walpipe snapshot: -c FILE and --table SCHEMA.TABLE are "
				"required\n");
		return 2;
	}
	return -1;
}

/*
 * Whether table (--table, in the configuration's notation: public."User")
 * names a source table a backfill can copy: one that mappings read, none
 * of them keyless.  Its name parts go into *tn.  Logs why not.
 */
static bool
backfill_table_ok(const struct run_settings *rs, const char *table,
				  struct ident_name *tn)
{
	bool mapped = false;
	char err[2048];

	if (!ident_parse(table, 2, 2, tn, err, sizeof(err))) {
		wp_log(LOG_ERROR,
			   "invalid table name \"%s\": %s\nName it as in the "
			   "mappings' from: key, schema.table.",
			   table, err);
		return false;
	}
	for (size_t i = 0; i < rs->nrules; i++) {
		if (strcmp(rs->rules[i].from_schema, tn->part[0]) != 0 ||
			strcmp(rs->rules[i].from_table, tn->part[1]) != 0)
			continue;
		mapped = true;
		/* A backfill lands on a target that holds rows, and the stream
		 * applies the changes the copy already holds again on top: an
		 * upsert makes them land where they were, but a keyless
		 * mapping would insert those rows twice. */
		if (rs->rules[i].mode == MAP_MODE_KEYLESS) {
			char *to = ident_qualified(rs->rules[i].to_schema,
									   rs->rules[i].to_table);

			wp_log(LOG_ERROR,
				   "source table \"%s\" has a keyless mapping (to \"%s\"), "
				   "which a backfill cannot copy exactly: the changes the "
				   "copy overlaps would be applied to it twice",
				   table, to);
			free(to);
			return false;
		}
	}
	if (!mapped)
		wp_log(LOG_ERROR,
			   "no mapping reads source table \"%s\"\nName it as in the "
			   "mappings' from: key, schema.table.",
			   table);
	return mapped;
}

/* Register a backfill of every mapping of table (its text form) with
 * the mapping's rule as it is now.  Logs; false on failure. */
static bool
backfill_register_all(struct sink_pg *sink, const struct run_settings *rs,
					  const char *table)
{
	struct buf rule = BUF_INIT;
	char from[IDENT_QUALIFIED_MAX], to[IDENT_QUALIFIED_MAX], err[2048];
	bool ok = true;

	for (size_t i = 0; ok && i < rs->nrules; i++) {
		map_rule_tables(&rs->rules[i], from, to, sizeof(from));
		if (strcmp(from, table) != 0 || rs->rules[i].mode == MAP_MODE_NONE)
			continue;
		buf_reset(&rule, 4096);
		map_rule_describe(&rule, &rs->rules[i]);
		if (sink_pg_backfill_request(sink, from, to, rule.data, err,
									 sizeof(err)) != SINK_OK) {
			wp_log(LOG_ERROR, "%s", err);
			ok = false;
		} else {
			wp_log(LOG_INFO, "backfill of \"%s\" into \"%s\" requested",
				   from, to);
		}
	}
	buf_free(&rule);
	return ok;
}

/* Whether every backfill of table is over; logs progress and the end.
 * *failed: one was refused. */
static bool
backfill_over(struct sink_pg *sink, const char *source, const char *table,
			  bool *failed, int64_t *quiet_since)
{
	struct sink_backfill *b;
	size_t n;
	bool over = true;
	char err[2048];

	if (sink_pg_backfills(sink, true, &b, &n, err, sizeof(err)) != SINK_OK) {
		wp_log(LOG_WARNING, "%s", err);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(b[i].source_table, table) != 0)
			continue;
		if (strcmp(b[i].state, "refused") == 0) {
			wp_log(LOG_ERROR, "backfill of \"%s\" into \"%s\" refused: %s",
				   b[i].source_table, b[i].target, b[i].note);
			*failed = true;
		} else if (strcmp(b[i].state, "done") != 0) {
			over = false;
			if (strcmp(b[i].state, "pending") == 0 &&
				clock_mono_ms() - *quiet_since >= 30000) {
				wp_log(LOG_NOTICE,
					   "the backfill of \"%s\" has not started yet: is "
					   "walpipe run of source \"%s\" running?",
					   b[i].source_table, source);
				*quiet_since = clock_mono_ms();
			} else if (strcmp(b[i].state, "copying") == 0) {
				wp_log(LOG_INFO,
					   "backfill of \"%s\" into \"%s\": %" PRIu64
					   " rows of about %" PRId64 ", %" PRIu64 " chunks",
					   b[i].source_table, b[i].target, b[i].rows,
					   b[i].estimate, b[i].chunks);
			}
		} else {
			wp_log(LOG_INFO,
				   "backfill of \"%s\" into \"%s\" done: %" PRIu64
				   " rows, %" PRIu64 " rows that no longer matched removed",
				   b[i].source_table, b[i].target, b[i].rows, b[i].removed);
		}
	}
	sink_backfill_free(b, n);
	return over;
}

/*
 * `walpipe snapshot --table` asks the running `walpipe run` for an online
 * backfill (docs/snapshots.md): it registers one per mapping of the table
 * in walpipe.backfills and emits a logical message on the source, which
 * reaches walpipe run through its stream and makes it start a new
 * session that copies the table in chunks while it streams.  Then it
 * waits, showing the progress every 10 s, unless --no-wait.  table is in
 * its text form (public.users, public."User").  Logs; the exit status.
 */
static int
backfill_ask(const struct run_settings *rs, const char *table, bool wait)
{
	struct sink_pg_config sc;
	struct sink_pg *sink;
	PGconn *src = NULL;
	enum sink_result sr;
	char err[2048];
	bool failed = false;
	int64_t quiet_since = clock_mono_ms();
	int rc = 1;

	run_sink_config(rs, &sc);
	sink = sink_pg_open(&sc, &sr, err, sizeof(err));
	if (sink == NULL) {
		wp_log(LOG_ERROR, "%s", err);
		return 1;
	}
	if (!backfill_register_all(sink, rs, table))
		goto done;
	if (!repl_emit_message(&src, rs->source_conninfo, "the backfill request",
						   REPL_BACKFILL_PREFIX, rs->source_name, err,
						   sizeof(err))) {
		wp_log(LOG_ERROR, "%s\nwalpipe run takes the backfill at its next "
						  "start.",
			   err);
		goto done;
	}
	rc = 0;
	if (!wait)
		goto done;
	for (int i = 0; !snapshot_stop; i++) {
		if ((i % 10 == 0 || i < 3) &&
			backfill_over(sink, rs->source_name, table, &failed,
						  &quiet_since)) {
			rc = failed ? 1 : 0;
			goto done;
		}
		sleep(1);
	}
	wp_log(LOG_NOTICE, "stopped waiting: walpipe run goes on with the "
					   "backfill (walpipe status shows it)");
done:
	PQfinish(src);
	sink_pg_close(sink);
	return rc;
}

int
cmd_snapshot(int argc, char **argv)
{
	const char *path = NULL, *table = NULL;
	bool wait = true;
	struct wp_config *cfg;
	struct run_state *st;
	struct ident_name tn = {0};
	char *qtable;
	int rc = snapshot_parse_args(argc, argv, &path, &table, &wait);

	if (rc >= 0)
		return rc;
	cfg = cmd_config_load(path, &rc);
	if (cfg == NULL)
		return rc;
	st = run_state_new(cfg, false);
	rc = 1; /* until the copy commits */
	if (backfill_table_ok(run_state_settings(st), table, &tn)) {
		/* From here on the table goes by its text form, as the snapshot
		 * state names it (public.users, public."User"). */
		qtable = ident_qualified(tn.part[0], tn.part[1]);
		cmd_signals_install(on_stop, NULL);
		rc = backfill_ask(run_state_settings(st), qtable, wait);
		free(qtable);
	}
	run_state_free(st);
	ident_name_free(&tn);
	return rc;
}
