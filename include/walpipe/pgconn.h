/* pgconn.h: the shell's libpq layer: connect, execute, classify an error, quote. */
#ifndef WALPIPE_PGCONN_H
#define WALPIPE_PGCONN_H

#include <libpq-fe.h>

#include <stdbool.h>
#include <stddef.h>

/*
 * Connect with conninfo (key=value or URI, as libpq reads it), with
 * fallback_application_name appname, replication=database if replication,
 * and search_path = pg_catalog, pg_temp from the first statement on (added
 * to the conninfo's own options): a name walpipe's SQL leaves unqualified
 * can never resolve to an object someone created in public, so nobody
 * with CREATE there runs code as walpipe's role; and
 * standard_conforming_strings = on, so the literals walpipe quotes itself
 * mean their text whatever the server's default.  TCP keepalives (30 s
 * idle, 10 s apart, 3 probes) unless the conninfo sets them.  Never NULL; check
 * PQstatus.  A conninfo libpq cannot parse is connected as given, so
 * that the failure is libpq's (config checks reject such strings first:
 * pgconn_check).
 */
PGconn *pgconn_connect(const char *conninfo, const char *appname,
					   bool replication);

/*
 * conninfo as "key=value ..." of what it sets, password and sslpassword
 * shown as ****, for logs and summaries: libpq's own parser reads it, so
 * every form it accepts (URIs with user:password@, ?password=, quoted
 * values, spaces around '=') is masked.  Caller frees.  Does not log.
 */
char *pgconn_mask(const char *conninfo);

/* Whether conninfo sets password or sslpassword. */
bool pgconn_has_password(const char *conninfo);

/*
 * Whether libpq can parse conninfo; false with the reason in errbuf,
 * the parts of conninfo libpq quotes in it left out (they could be a
 * password).  Does not log.
 */
bool pgconn_check(const char *conninfo, char *errbuf, size_t errlen);

/*
 * Executing statements.  Every function below borrows conn and never
 * logs: a failure comes back as an outcome, classified by SQLSTATE (never
 * by message text), with "what: libpq's message" in the caller's errbuf;
 * the caller decides whether to retry, dead-letter or stop.
 */

/* What a failed statement means for the caller. */
enum pgconn_outcome {
	PGCONN_OK = 0,
	/* A row's data failed (data exceptions 22, integrity violations 23,
	 * cardinality violations 21 such as ON CONFLICT hitting a row twice,
	 * 54000, a RAISE in a trigger P0001, P0004): the row is at fault. */
	PGCONN_DATA,
	/* The connection is lost (or no SQLSTATE came back), the server shuts
	 * down or is out of resources (08, 57, 53), a serialization failure
	 * or deadlock (40001, 40P01), a read-only server during a failover
	 * (25006): reconnect or try again later. */
	PGCONN_RETRY,
	/* A statement timeout (57014) or a lock not granted in time (55P03):
	 * transient like PGCONN_RETRY, but the work was too big for the
	 * timeout, so the caller may retry with less. */
	PGCONN_TIMEOUT,
	/* Anything else (42: an SQL text is wrong, a table is missing). */
	PGCONN_FATAL,
};

/* r's SQLSTATE, "" when it has none (r NULL, a client-side failure). */
const char *pgconn_sqlstate(const PGresult *r);

/* Classify failed result r (may be NULL: the connection failed) of conn. */
enum pgconn_outcome pgconn_classify(PGconn *conn, const PGresult *r);

/*
 * errbuf = "what: reason", reason r's error message or, when r is NULL or
 * has none, conn's, its trailing newline cut (libpq's messages end in
 * one; walpipe's error texts must not).
 */
void pgconn_error(char *errbuf, size_t errlen, const char *what,
				  PGconn *conn, const PGresult *r);

/*
 * Execute sql (PQexec: several statements separated by ';' may run) and
 * classify its outcome: PGCONN_OK when it returned rows or a command
 * status, else its class with pgconn_error(what) in errbuf.  out NULL:
 * the result is cleared here; else *out gets it in every case (a failed
 * one too, for its fields) and the caller PQclears it.
 */
enum pgconn_outcome pgconn_exec(PGconn *conn, const char *sql,
								const char *what, PGresult **out,
								char *errbuf, size_t errlen);

/* The same for one statement with n text parameters (PQexecParams). */
enum pgconn_outcome pgconn_exec_params(PGconn *conn, const char *sql, int n,
									   const char *const *params,
									   const char *what, PGresult **out,
									   char *errbuf, size_t errlen);

/*
 * name as a quoted SQL identifier, by map_quote_ident (map.h), walpipe's
 * one rule for it.  Caller frees.
 */
char *pgconn_quote_ident(const char *name);

/*
 * text as an SQL literal, escaped by libpq for conn's encoding and
 * settings.  Aborts when libpq cannot (out of memory, or text invalid in
 * the client encoding: callers pass names the configuration checked), as
 * the wp_malloc wrappers do.  Caller frees.
 */
char *pgconn_quote_literal(PGconn *conn, const char *text);

#endif
