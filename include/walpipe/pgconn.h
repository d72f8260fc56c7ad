/* pgconn.h: opening PostgreSQL connections safely, and conninfo strings fit to show. */
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

#endif
