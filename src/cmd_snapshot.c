/* cmd_snapshot.c: `walpipe snapshot --table`: copy one table again (a backfill) while `walpipe run` streams. */
#include "walpipe/commands.h"
#include "walpipe/config.h"
#include "walpipe/ident.h"
#include "walpipe/log.h"
#include "walpipe/settings.h"
#include "walpipe/sink_pg.h"
#include "walpipe/snapshot.h"

#include <getopt.h>
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
					const char **table)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"table", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:t:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': *path = optarg; break;
		case 't': *table = optarg; break;
		case 'h':
			printf("Usage: walpipe snapshot -c FILE --table SCHEMA.TABLE\n\n"
				   "SCHEMA.TABLE as in the mappings' from: key, e.g. "
				   "public.users or\n"
				   "'public.\"User\"' (quoted names are exact).\n\n"
				   "Copy the existing rows of one source table through its "
				   "mappings again\n"
				   "(a backfill, e.g. after a mapping change), while walpipe "
				   "run streams:\n"
				   "no concurrent change is lost or applied twice. walpipe "
				   "run waits, with\n"
				   "its batch in hand, until the copy commits.\n");
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

/*
 * The backfill protocol (docs/snapshots.md, "Backfill"):
 *  1. lock the source's checkpoint row in an analytics transaction; the
 *     running `walpipe run` commits nothing more until step 4 (it keeps
 *     its batch and waits, see sink_pg_apply's SINK_BUSY);
 *  2. create a temporary slot with an exported snapshot: its consistent
 *     point P is past everything `walpipe run` has committed;
 *  3. copy the table as of P into that same transaction, and record the
 *     table done at P;
 *  4. COMMIT.  `walpipe run` then applies every change after its
 *     checkpoint, in order, on top of the copy: those ending at or before
 *     P bring each row to its state at P again (a delete removes a row the
 *     copy could not), the later ones move it on.
 * table is in its text form, as the snapshot state names it
 * (public.users, public."User").  Logs; the exit status.
 */
static int
backfill_copy(const struct run_settings *rs, const char *table)
{
	struct sink_pg_config sc;
	struct sink_pg *sink;
	struct repl_export *ex;
	struct snapshot_job job;
	enum sink_result sr;
	enum repl_result rr;
	char err[2048], name[64];
	char *tables[1] = {(char *) table};
	int rc = 1;

	run_sink_config(rs, &sc);
	sink = sink_pg_open(&sc, &sr, err, sizeof(err));
	if (sink == NULL) {
		wp_log(LOG_ERROR, "%s", err);
		return 1;
	}
	wp_log(LOG_INFO, "locking the checkpoint of source \"%s\"", rs->source_name);
	sr = sink_pg_snapshot_begin(sink, table, err, sizeof(err));
	if (sr != SINK_OK) {
		wp_log(LOG_ERROR, "%s", err);
		goto done;
	}
	snprintf(name, sizeof(name), "walpipe_backfill_%ld", (long) getpid());
	ex = repl_export_open(rs->source_conninfo, name, rs->pgoutput, true, &rr,
						  err,
						  sizeof(err));
	if (ex == NULL) {
		wp_log(LOG_ERROR, "%s", err);
		sink_pg_snapshot_abort(sink);
		goto done;
	}
	memset(&job, 0, sizeof(job));
	job.rs = rs;
	job.kind = "backfill";
	job.tables = tables;
	job.ntables = 1;
	job.workers = 1;
	job.op = rs->snapshot_op ? rs->snapshot_op : 'r';
	job.export = ex;
	job.sink = sink;
	job.stop = &snapshot_stop;
	rc = snapshot_run(&job) == SNAPSHOT_OK ? 0 : 1;
done:
	sink_pg_close(sink);
	return rc;
}

int
cmd_snapshot(int argc, char **argv)
{
	const char *path = NULL, *table = NULL;
	struct wp_config *cfg;
	struct run_state *st;
	struct ident_name tn = {0};
	char *qtable;
	int rc = snapshot_parse_args(argc, argv, &path, &table);

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
		rc = backfill_copy(run_state_settings(st), qtable);
		free(qtable);
	}
	run_state_free(st);
	ident_name_free(&tn);
	return rc;
}
