/* sink_copy.c: COPY FROM STDIN of the sink's scratch data. */
#include "sink_pg_int.h"

#include "walpipe/buf.h"
#include "walpipe/pgconn.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Stream s->copy to the server if it is big enough (or always: force). */
enum step
sink_copy_flush(struct sink_pg *s, bool force, char *errbuf, size_t errlen)
{
	if (s->copy.len == 0 || (!force && s->copy.len < COPY_CHUNK))
		return STEP_OK;
	/* PQputCopyData takes an int: one row can be bigger than 2 GiB
	 * (a 1 GB value escaped for COPY), so send in bounded pieces; COPY's
	 * data stream need not break at rows. */
	for (size_t off = 0; off < s->copy.len; off += COPY_CHUNK) {
		size_t n =
			s->copy.len - off < COPY_CHUNK ? s->copy.len - off : COPY_CHUNK;

		if (PQputCopyData(s->conn, s->copy.data + off, (int) n) != 1) {
			pgconn_error(errbuf, errlen, "could not send COPY data", s->conn,
						 NULL);
			return STEP_RETRY;
		}
	}
	buf_reset(&s->copy, 4 * COPY_CHUNK);
	if (s->tick)
		s->tick(s->tick_arg);
	return STEP_OK;
}

enum step
sink_copy_begin(struct sink_pg *s, const char *sql, char *errbuf, size_t errlen)
{
	PGresult *r = PQexec(s->conn, sql);
	enum step st = STEP_OK;

	if (PQresultStatus(r) != PGRES_COPY_IN) {
		st = sink_classify(s, r);
		if (st == STEP_DATA)
			st = STEP_FATAL;
		pgconn_error(errbuf, errlen, "could not start COPY", s->conn, r);
	}
	PQclear(r);
	buf_reset(&s->copy, 4 * COPY_CHUNK);
	return st;
}

enum step
sink_copy_end(struct sink_pg *s, char *errbuf, size_t errlen)
{
	enum step st = sink_copy_flush(s, true, errbuf, errlen);
	PGresult *r;

	if (st != STEP_OK)
		return st;
	if (PQputCopyEnd(s->conn, NULL) != 1) {
		pgconn_error(errbuf, errlen, "could not end COPY", s->conn, NULL);
		return STEP_RETRY;
	}
	while ((r = PQgetResult(s->conn)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK && st == STEP_OK) {
			st = sink_classify(s, r);
			pgconn_error(errbuf, errlen, "COPY failed", s->conn, r);
			if (st == STEP_DATA) {
				const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);

				snprintf(s->row_state, sizeof(s->row_state), "%s",
						 pgconn_sqlstate(r));
				snprintf(s->row_msg, sizeof(s->row_msg), "%s", m ? m : errbuf);
			}
		}
		PQclear(r);
	}
	return st;
}
