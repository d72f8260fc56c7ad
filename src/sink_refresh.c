/* sink_refresh.c: materialized view refreshes, their outcome kept. */
#include "walpipe/sink_pg.h"

#include "sink_pg_int.h"
#include "walpipe/buf.h"
#include "walpipe/ident.h"
#include "walpipe/pgconn.h"

#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Run sql asynchronously, ticking while the server works. */
static PGresult *
exec_ticking(struct sink_pg *s, const char *sql, void (*tick)(void *),
			 void *arg)
{
	PGresult *r, *last = NULL;

	if (!PQsendQuery(s->conn, sql))
		return NULL;
	for (;;) {
		struct pollfd p = {PQsocket(s->conn), POLLIN, 0};

		if (!PQconsumeInput(s->conn))
			break;
		if (!PQisBusy(s->conn))
			break;
		poll(&p, 1, 100);
		if (tick)
			tick(arg);
	}
	while ((r = PQgetResult(s->conn)) != NULL) {
		PQclear(last);
		last = r;
	}
	return last;
}

enum sink_result
sink_pg_refresh(struct sink_pg *s, const char *schema, const char *view,
				bool concurrently, void (*tick)(void *), void *arg,
				char *errbuf, size_t errlen)
{
	char *qs = pgconn_quote_ident(schema), *qv = pgconn_quote_ident(view);
	char *name = ident_qualified(schema, view), ms[24];
	const char *params[3];
	struct timespec t0, t1;
	PGresult *r;
	enum sink_result res = SINK_OK;
	bool ok;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	buf_reset(&s->q, 65536);
	buf_appendf(&s->q, "REFRESH MATERIALIZED VIEW %s%s.%s",
				concurrently ? "CONCURRENTLY " : "", qs, qv);
	r = exec_ticking(s, s->q.data, tick, arg);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok && concurrently && r && strcmp(pgconn_sqlstate(r), "55000") == 0) {
		/* Not populated yet, or no unique index: refresh plainly. */
		PQclear(r);
		buf_reset(&s->q, 65536);
		buf_appendf(&s->q, "REFRESH MATERIALIZED VIEW %s.%s", qs, qv);
		r = exec_ticking(s, s->q.data, tick, arg);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (!ok) {
		res = PQstatus(s->conn) != CONNECTION_OK ? SINK_RETRY : SINK_FATAL;
		pgconn_error(errbuf, errlen, "could not refresh materialized view",
					 s->conn, r);
	}
	PQclear(r);
	snprintf(ms, sizeof(ms), "%lld",
			 (long long) ((t1.tv_sec - t0.tv_sec) * 1000 +
						  (t1.tv_nsec - t0.tv_nsec) / 1000000));
	params[0] = name;
	params[1] = ok ? NULL : errbuf;
	params[2] = ms;
	buf_reset(&s->q, 65536);
	buf_appendf(&s->q,
				"INSERT INTO %s.refreshes AS f (view, last_ok_at, last_error, "
				"last_error_at, duration_ms) VALUES ($1, CASE WHEN $2::text IS "
				"NULL THEN now() END, $2, CASE WHEN $2 IS NOT NULL THEN now() "
				"END, $3) ON CONFLICT (view) DO UPDATE SET last_ok_at = "
				"coalesce(EXCLUDED.last_ok_at, f.last_ok_at), last_error = "
				"coalesce(EXCLUDED.last_error, f.last_error), last_error_at = "
				"coalesce(EXCLUDED.last_error_at, f.last_error_at), "
				"duration_ms = EXCLUDED.duration_ms",
				s->qschema);
	if (res != SINK_RETRY)
		PQclear(
			PQexecParams(s->conn, s->q.data, 3, NULL, params, NULL, NULL, 0));
	free(qs);
	free(qv);
	free(name);
	return res;
}
