/* pgconn.c: the shell's libpq layer: connect, execute, classify an error, quote. */
#include "walpipe/pgconn.h"

#include "walpipe/buf.h"
#include "walpipe/map.h"
#include "walpipe/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* standard_conforming_strings too: walpipe's own literals (map.c quotes
 * by doubling single quotes) then mean exactly their text. */
#define SAFE_SEARCH_PATH                                                       \
	"-c search_path=pg_catalog,pg_temp -c standard_conforming_strings=on"

static const char *const keepalive[][2] = {
	{"keepalives_idle", "30"},
	{"keepalives_interval", "10"},
	{"keepalives_count", "3"},
};

PGconn *
pgconn_connect(const char *conninfo, const char *appname, bool replication)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	const char **keys, **vals;
	struct buf options = BUF_INIT;
	size_t n = 0, i = 0;
	PGconn *conn;

	if (opts == NULL) {
		const char *k[] = {"dbname", "fallback_application_name", NULL};
		const char *v[] = {conninfo, appname, NULL};

		return PQconnectdbParams(k, v, 1);
	}
	for (PQconninfoOption *o = opts; o->keyword; o++)
		n++;
	keys = wp_calloc(n + 8, sizeof(*keys));
	vals = wp_calloc(n + 8, sizeof(*vals));
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (o->val == NULL)
			continue;
		if (strcmp(o->keyword, "options") == 0) {
			/* The operator's options first; ours last, so they win. */
			buf_appendf(&options, "%s ", o->val);
			continue;
		}
		if (strcmp(o->keyword, "replication") == 0 ||
			strcmp(o->keyword, "fallback_application_name") == 0)
			continue;
		keys[i] = o->keyword;
		vals[i++] = o->val;
	}
	buf_append_str(&options, SAFE_SEARCH_PATH);
	keys[i] = "options";
	vals[i++] = options.data;
	/* TCP keepalives unless the conninfo says otherwise: a peer that
	 * vanished (a failover, a dropped route) is noticed in about a minute
	 * rather than when the kernel gives up hours later. */
	for (size_t k = 0; k < sizeof(keepalive) / sizeof(keepalive[0]); k++) {
		bool set = false;

		for (PQconninfoOption *o = opts; o->keyword; o++)
			set |= o->val != NULL && strcmp(o->keyword, keepalive[k][0]) == 0;
		if (!set) {
			keys[i] = keepalive[k][0];
			vals[i++] = keepalive[k][1];
		}
	}
	keys[i] = "fallback_application_name";
	vals[i++] = appname;
	if (replication) {
		keys[i] = "replication";
		vals[i++] = "database";
	}
	keys[i] = NULL;
	vals[i] = NULL;
	conn = PQconnectdbParams(keys, vals, 0);
	free(keys);
	free(vals);
	buf_free(&options);
	PQconninfoFree(opts);
	return conn;
}

static bool
is_secret(const char *keyword)
{
	return strcmp(keyword, "password") == 0 ||
		   strcmp(keyword, "sslpassword") == 0;
}

char *
pgconn_mask(const char *conninfo)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	struct buf b = BUF_INIT;

	if (opts == NULL)
		return wp_strdup("(a connection string libpq cannot parse)");
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (o->val == NULL)
			continue;
		buf_appendf(&b, "%s%s=", b.len ? " " : "", o->keyword);
		if (is_secret(o->keyword)) {
			buf_append_str(&b, "****");
		} else if (o->val[0] == '\0' || strpbrk(o->val, " '\\")) {
			buf_append_char(&b, '\'');
			for (const char *p = o->val; *p; p++) {
				if (*p == '\'' || *p == '\\')
					buf_append_char(&b, '\\');
				buf_append_char(&b, *p);
			}
			buf_append_char(&b, '\'');
		} else {
			buf_append_str(&b, o->val);
		}
	}
	PQconninfoFree(opts);
	return b.data ? b.data : wp_strdup("");
}

bool
pgconn_has_password(const char *conninfo)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	bool has = false;

	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		has |= o->val != NULL && o->val[0] != '\0' && is_secret(o->keyword);
	PQconninfoFree(opts);
	return has;
}

bool
pgconn_check(const char *conninfo, char *errbuf, size_t errlen)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
	struct buf b = BUF_INIT;
	bool quoted = false;

	if (opts) {
		PQconninfoFree(opts);
		return true;
	}
	/* libpq quotes pieces of the string ("missing \"=\" after \"...\"");
	 * a piece could be a password: leave every quoted part out. */
	for (const char *p = err ? err : "out of memory"; *p && *p != '\n'; p++) {
		if (*p == '"') {
			if (!quoted)
				buf_append_str(&b, "\"...\"");
			quoted = !quoted;
		} else if (!quoted) {
			buf_append_char(&b, *p);
		}
	}
	snprintf(errbuf, errlen, "%s", b.data ? b.data : "");
	buf_free(&b);
	PQfreemem(err);
	return false;
}

const char *
pgconn_sqlstate(const PGresult *r)
{
	const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	return st ? st : "";
}

enum pgconn_outcome
pgconn_classify(PGconn *conn, const PGresult *r)
{
	const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	/* First: a timeout is one whether or not the connection survived. */
	if (st && (strcmp(st, "57014") == 0 || strcmp(st, "55P03") == 0))
		return PGCONN_TIMEOUT;
	if (PQstatus(conn) != CONNECTION_OK || st == NULL)
		return PGCONN_RETRY;
	if (strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0 ||
		strncmp(st, "21", 2) == 0 || strcmp(st, "54000") == 0 ||
		strcmp(st, "P0001") == 0 || strcmp(st, "P0004") == 0)
		return PGCONN_DATA;
	/* 25006: a read-only server (a standby, during a failover) may
	 * take writes again after a while: retry with backoff. */
	if (strncmp(st, "08", 2) == 0 || strncmp(st, "57", 2) == 0 ||
		strncmp(st, "53", 2) == 0 || strcmp(st, "40001") == 0 ||
		strcmp(st, "40P01") == 0 || strcmp(st, "25006") == 0)
		return PGCONN_RETRY;
	return PGCONN_FATAL;
}

void
pgconn_error(char *errbuf, size_t errlen, const char *what, PGconn *conn,
			 const PGresult *r)
{
	const char *msg = r ? PQresultErrorMessage(r) : "";
	size_t n;

	if (msg == NULL || msg[0] == '\0')
		msg = PQerrorMessage(conn);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		n--;
	snprintf(errbuf, errlen, "%s: %.*s", what, (int) n, msg);
}

/* Classify r, fill errbuf on failure, hand r over or clear it. */
static enum pgconn_outcome
outcome_of(PGconn *conn, PGresult *r, const char *what, PGresult **out,
		   char *errbuf, size_t errlen)
{
	ExecStatusType rs = PQresultStatus(r);
	enum pgconn_outcome o = PGCONN_OK;

	if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK) {
		o = pgconn_classify(conn, r);
		pgconn_error(errbuf, errlen, what, conn, r);
	}
	if (out)
		*out = r;
	else
		PQclear(r);
	return o;
}

enum pgconn_outcome
pgconn_exec(PGconn *conn, const char *sql, const char *what, PGresult **out,
			char *errbuf, size_t errlen)
{
	return outcome_of(conn, PQexec(conn, sql), what, out, errbuf, errlen);
}

enum pgconn_outcome
pgconn_exec_params(PGconn *conn, const char *sql, int n,
				   const char *const *params, const char *what,
				   PGresult **out, char *errbuf, size_t errlen)
{
	PGresult *r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);

	return outcome_of(conn, r, what, out, errbuf, errlen);
}

char *
pgconn_quote_ident(const char *name)
{
	struct buf b = BUF_INIT;

	map_quote_ident(&b, name);
	return b.data;
}

char *
pgconn_quote_literal(PGconn *conn, const char *text)
{
	char *q = PQescapeLiteral(conn, text, strlen(text));
	char *copy;

	if (q == NULL) {
		fprintf(stderr, "walpipe: could not quote \"%s\": %s", text,
				PQerrorMessage(conn));
		abort();
	}
	copy = wp_strdup(q);
	PQfreemem(q);
	return copy;
}
