/* pgconn.c: opening PostgreSQL connections safely, and conninfo strings fit to show. */
#include "walpipe/pgconn.h"

#include "walpipe/buf.h"
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
