/* cmd_dlq.c: `walpipe dlq`: list and resolve the dead letters of a source. */
#include "walpipe/buf.h"
#include "walpipe/commands.h"
#include "walpipe/config.h"

#include <getopt.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
dlq_usage(FILE *out)
{
	fprintf(out,
			"Usage:\n"
			"  walpipe dlq list -c FILE [--all]\n"
			"  walpipe dlq resolve -c FILE (--id N [--id N ...] | --all)\n\n"
			"list     pending dead letters of the source (--all: resolved "
			"too)\n"
			"resolve  mark dead letters handled; they stay for the record\n");
}

int
cmd_dlq(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"id", required_argument, NULL, 'i'},
		{"all", no_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = NULL, *verb;
	bool all = false, unreadable;
	struct buf ids = BUF_INIT, q = BUF_INIT;
	struct config_errors errs;
	struct wp_config *cfg;
	PGconn *conn = NULL;
	PGresult *r = NULL;
	char *schema = NULL;
	int c, rc = 1;

	if (argc < 2 || argv[1][0] == '-') {
		dlq_usage(argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr);
		return argc >= 2 && !strcmp(argv[1], "--help") ? 0 : 2;
	}
	verb = argv[1];
	if (strcmp(verb, "list") != 0 && strcmp(verb, "resolve") != 0) {
		fprintf(stderr, "walpipe dlq: unknown action \"%s\"%s\n", verb,
				strcmp(verb, "retry") == 0
					? " (retry is not implemented yet: re-applying an old "
					  "change could overwrite a newer one)"
					: "");
		return 2;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'a': all = true; break;
		case 'i': {
			char *end;
			long long id = strtoll(optarg, &end, 10);

			if (*end || id <= 0) {
				fprintf(stderr, "walpipe dlq: invalid --id \"%s\"\n", optarg);
				return 2;
			}
			buf_appendf(&ids, "%s%lld", ids.len ? "," : "", id);
			break;
		}
		case 'h': dlq_usage(stdout); return 0;
		default: dlq_usage(stderr); return 2;
		}
	}
	if (!path || (!strcmp(verb, "resolve") && !all && ids.len == 0)) {
		dlq_usage(stderr);
		buf_free(&ids);
		return 2;
	}
	cfg = config_load(path, &errs, &unreadable);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.msg[i]);
	config_errors_free(&errs);
	if (cfg == NULL) {
		buf_free(&ids);
		return unreadable ? 2 : 1;
	}
	if (cfg->target.conninfo == NULL) {
		fprintf(stderr, "walpipe dlq: %s has no target: dead letters live in "
						"the analytics database\n",
				cfg->path);
		config_free(cfg);
		buf_free(&ids);
		return 2;
	}
	{
		const char *keys[] = {"dbname", "fallback_application_name", NULL};
		const char *vals[] = {cfg->target.conninfo, "walpipe dlq", NULL};

		conn = PQconnectdbParams(keys, vals, 1);
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "walpipe dlq: could not connect to the analytics "
						"server: %s",
				PQerrorMessage(conn));
		rc = 2;
		goto done;
	}
	schema = PQescapeIdentifier(conn, cfg->target.schema,
								strlen(cfg->target.schema));
	if (!strcmp(verb, "list")) {
		const char *params[1] = {cfg->source.name};

		buf_appendf(&q,
					"SELECT id, lsn, op, source_table, target_table, attempts, "
					"to_char(last_failed_at, 'YYYY-MM-DD HH24:MI:SS'), "
					"CASE WHEN resolved THEN 'resolved' ELSE 'pending' END, "
					"coalesce(sqlstate, ''), error FROM %s.dead_letters "
					"WHERE source = $1 %s ORDER BY id",
					schema, all ? "" : "AND NOT resolved");
		r = PQexecParams(conn, q.data, 1, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			fprintf(stderr, "walpipe dlq: could not list dead letters: %s",
					PQerrorMessage(conn));
			goto done;
		}
		printf("%-8s %-12s %-2s %-28s %-8s %-19s %-8s %s\n", "id", "lsn", "op",
			   "source -> target", "attempts", "last failed", "state",
			   "error");
		for (int i = 0; i < PQntuples(r); i++) {
			char st[200];

			snprintf(st, sizeof(st), "%s -> %s", PQgetvalue(r, i, 3),
					 PQgetvalue(r, i, 4));
			printf("%-8s %-12s %-2s %-28s %-8s %-19s %-8s %s (%s)\n",
				   PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
				   PQgetvalue(r, i, 2), st, PQgetvalue(r, i, 5),
				   PQgetvalue(r, i, 6), PQgetvalue(r, i, 7),
				   PQgetvalue(r, i, 9), PQgetvalue(r, i, 8));
		}
		printf("(%d dead letter%s)\n", PQntuples(r),
			   PQntuples(r) == 1 ? "" : "s");
		rc = 0;
	} else {
		const char *params[1] = {cfg->source.name};

		buf_appendf(&q,
					"UPDATE %s.dead_letters SET resolved = true, resolved_at = "
					"now() WHERE source = $1 AND NOT resolved%s%s%s",
					schema, all ? "" : " AND id IN (", all ? "" : ids.data,
					all ? "" : ")");
		r = PQexecParams(conn, q.data, 1, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			fprintf(stderr, "walpipe dlq: could not resolve dead letters: %s",
					PQerrorMessage(conn));
			goto done;
		}
		printf("resolved %s dead letter(s)\n", PQcmdTuples(r));
		rc = 0;
	}
done:
	PQclear(r);
	PQfreemem(schema);
	PQfinish(conn);
	buf_free(&ids);
	buf_free(&q);
	config_free(cfg);
	return rc;
}
