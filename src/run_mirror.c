/* run_mirror.c: a session's mirrors: the source tables they match, their targets made to exist, their rules beside the mappings. */
#include "run_int.h"

#include "walpipe/buf.h"
#include "walpipe/ident.h"
#include "walpipe/log.h"
#include "walpipe/mem.h"
#include "walpipe/mirror_pg.h"
#include "walpipe/pgconn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
add_rule(struct session_mirror *sm, struct map_rule *r, bool kafka)
{
	size_t n = sm->rs.nrules;

	sm->owned = wp_realloc(sm->owned, (sm->nowned + 1) * sizeof(*sm->owned));
	sm->owned[sm->nowned++] = r;
	sm->rules = wp_realloc(sm->rules, (n + 1) * sizeof(*sm->rules));
	sm->rule_kafka = wp_realloc(sm->rule_kafka, (n + 1) * sizeof(bool));
	sm->rules[n] = *r;
	sm->rule_kafka[n] = kafka;
	sm->rs.nrules = n + 1;
}

/*
 * A target created while a checkpoint exists (a table created on the
 * source since, or newly matched after a restart) is empty, while the
 * stream holds only the changes after the checkpoint: record the table
 * as a pending copy, in the transaction that created the target, so the
 * session copies it before streaming (as a resumed initial snapshot:
 * copied at a fresh point P, its changes up to P skipped).  On the first
 * start the initial snapshot copies every table anyway.
 */
static bool
register_copy(struct session *s, const char *q)
{
	char err[1024];
	char *const one[1] = {(char *) q};

	if (!s->ckpt.exists)
		return true;
	if (!s->mirror.base->snapshot_initial) {
		wp_log(LOG_WARNING,
			   "target of %s created with snapshot: never: rows the source "
			   "table held before %s are not copied\nCopy them with "
			   "walpipe snapshot --table %s.",
			   q, "the checkpoint", q);
		return true;
	}
	if (sink_pg_snapshot_register(s->sink, one, 1, "initial", err,
								  sizeof(err)) != SINK_OK) {
		wp_log(LOG_ERROR, "%s", err);
		return false;
	}
	return true;
}

/*
 * Mirror entry i's tables: checked, their targets made to exist inside
 * the open analytics transaction, their rules added.  Tables that cannot
 * be mirrored are appended to refused (one line each), those whose
 * target was created to created, the statements that made a target
 * follow its source to changed.
 */
static bool
expand_one(struct session *s, PGconn *src, PGconn *ana, size_t i,
		   struct buf *refused, struct buf *created, struct buf *changed)
{
	const struct config_mirror *m = &s->mirror.base->mirrors[i];
	struct mirror_source *t;
	size_t n, taken = 0;
	char err[4096], q[IDENT_QUALIFIED_MAX];
	char *changes = NULL;

	if (!mirror_pg_taken(src, s->mirror.base->mirrors,
						 s->mirror.base->nmirrors, i, s->mirror.base->rules,
						 s->mirror.base->nrules, &t, &n, err, sizeof(err))) {
		wp_log(LOG_ERROR, "%s", err);
		return false;
	}
	for (size_t k = 0; k < n; k++) {
		struct mirror_table view;
		int rc;

		if (!mirror_source_ok(&t[k], err, sizeof(err))) {
			buf_appendf(refused, "\n  %s", err);
			continue;
		}
		rc = mirror_pg_ensure_target(src, ana, &t[k], &m->spec, &changes,
									 err, sizeof(err));
		if (rc < 0) {
			wp_log(LOG_ERROR, "mirror[%zu]: %s", i, err);
			mirror_pg_free_sources(t, n);
			return false;
		}
		ident_qualified_to(q, sizeof(q), t[k].schema, t[k].table);
		if (rc == 1)
			buf_appendf(created, "%s%s", created->len ? ", " : "", q);
		if (rc == 2)
			buf_append_str(changed, changes);
		free(changes);
		changes = NULL;
		if (rc == 1 && !register_copy(s, q)) {
			mirror_pg_free_sources(t, n);
			return false;
		}
		if (t[k].ngenerated)
			wp_log(LOG_NOTICE,
				   "mirror[%zu]: %s has %zu generated column(s), which "
				   "wal2json does not send: the target leaves them out",
				   i, q, t[k].ngenerated);
		mirror_source_view(&t[k], &view);
		add_rule(&s->mirror, mirror_rule_new(&m->spec, t[k].schema, &view),
				 m->kafka);
		mirror_source_view_free(&view);
		taken++;
	}
	wp_log(LOG_INFO, "mirror[%zu]: %zu table(s) into schema \"%s\"", i,
		   taken, m->to);
	mirror_pg_free_sources(t, n);
	return true;
}

static bool
exec_ok(PGconn *conn, const char *sql)
{
	char err[1024], what[96];

	snprintf(what, sizeof(what), "could not run %s for the mirrors", sql);
	if (pgconn_exec(conn, sql, what, NULL, err, sizeof(err)) == PGCONN_OK)
		return true;
	wp_log(LOG_ERROR, "%s", err);
	return false;
}

static char *
mirror_signature(const struct session *s, PGconn *src)
{
	const struct session_mirror *sm = &s->mirror;
	const struct map_rule **r =
		wp_calloc(sm->nowned + 1, sizeof(*r));
	char *sig;

	for (size_t i = 0; i < sm->nowned; i++)
		r[i] = sm->owned[i];
	sig = catalog_columns_signature(src, r, sm->nowned);
	free(r);
	return sig;
}

enum session_end
session_mirror_expand(struct session *s, PGconn *src)
{
	struct session_mirror *sm = &s->mirror;
	PGconn *ana = sink_pg_conn(s->sink);
	struct buf refused = BUF_INIT, created = BUF_INIT, changed = BUF_INIT;
	bool ok;

	if (s->rs->nmirrors == 0 || ana == NULL)
		return SESSION_OK;
	sm->base = s->rs;
	sm->rs = *s->rs;
	sm->rules = wp_calloc(s->rs->nrules + 1, sizeof(*sm->rules));
	sm->rule_kafka = wp_calloc(s->rs->nrules + 1, sizeof(bool));
	for (size_t i = 0; i < s->rs->nrules; i++) {
		sm->rules[i] = s->rs->rules[i];
		sm->rule_kafka[i] = s->rs->rule_kafka ? s->rs->rule_kafka[i] : true;
	}
	/* All targets in one transaction: a failure leaves none half made.
	 * The source's catalog read in one snapshot, the signature that
	 * session_mirror_check watches included. */
	ok = exec_ok(ana, "BEGIN") &&
		 exec_ok(src, "BEGIN ISOLATION LEVEL REPEATABLE READ");
	for (size_t i = 0; ok && i < sm->base->nmirrors; i++)
		ok = expand_one(s, src, ana, i, &refused, &created, &changed);
	if (ok && (sm->sig = mirror_signature(s, src)) == NULL) {
		wp_log(LOG_ERROR, "could not read the mirrored tables' columns: %s",
			   PQerrorMessage(src));
		ok = false;
	}
	PQclear(PQexec(src, "COMMIT"));
	if (ok && refused.len) {
		wp_log(LOG_ERROR,
			   "cannot mirror these tables:%s\nFix them on the source, or "
			   "add them to the mirror's exclude.",
			   refused.data);
		ok = false;
	}
	if (ok)
		ok = exec_ok(ana, "COMMIT");
	else
		PQclear(PQexec(ana, "ROLLBACK"));
	if (ok && created.len)
		wp_log(LOG_NOTICE, "mirror: created the target tables of %s",
			   created.data);
	if (ok && changed.len)
		wp_log(LOG_NOTICE, "mirror: target tables follow their sources:\n%s",
			   changed.data);
	buf_free(&refused);
	buf_free(&created);
	buf_free(&changed);
	sm->rs.rules = sm->rules;
	sm->rs.rule_kafka = sm->rule_kafka;
	s->rs = &sm->rs;
	if (!ok)
		return PQstatus(ana) == CONNECTION_OK ? SESSION_FATAL : SESSION_RETRY;
	return SESSION_OK;
}

/*
 * Whether every table of signature now ("t=md5;...") is in was with the
 * same md5.  A table of was missing from now was dropped (or renamed):
 * the session's plans still serve the changes it made before, and its
 * target stays, so that is no reason to start again; a renamed table's
 * new name arrives as a new table (session_mirror_new).
 */
static bool
mirror_sig_same(const char *was, const char *now)
{
	const char *p = now;

	while (*p) {
		size_t len = strcspn(p, ";");
		const char *q = was;
		bool found = false;

		while (*q && !found) {
			size_t l2 = strcspn(q, ";");

			found = l2 == len && strncmp(p, q, len) == 0;
			q += l2 + (q[l2] == ';');
		}
		if (!found)
			return false;
		p += len + (p[len] == ';');
	}
	return true;
}

enum session_end
session_mirror_check(struct session *s)
{
	char *sig;
	bool same;
	enum session_end e;

	if (s->mirror.sig == NULL || s->parts.plan_conn == NULL)
		return SESSION_OK;
	/* What is in hand must all be in the catalog looked at. */
	if ((e = session_catalog_sees(s)) != SESSION_OK)
		return e;
	sig = mirror_signature(s, s->parts.plan_conn);
	if (sig == NULL) {
		wp_log(LOG_WARNING, "could not read the mirrored tables' columns: %s",
			   PQerrorMessage(s->parts.plan_conn));
		return SESSION_RETRY;
	}
	same = mirror_sig_same(s->mirror.sig, sig);
	free(sig);
	if (same)
		return SESSION_OK;
	wp_log(LOG_NOTICE,
		   "the columns of mirrored source tables changed: the session "
		   "starts again from the checkpoint to follow them");
	return SESSION_REPLAN;
}

bool
session_mirror_wants(const struct session *s, const char *schema,
					 const char *table)
{
	return s->mirror.base &&
		   config_mirror_of(s->rs->mirrors, s->rs->nmirrors, s->rs->rules,
							s->rs->nrules, schema, table) >= 0;
}

enum session_end
session_mirror_new(struct session *s, const struct w2j_change *c)
{
	char q[IDENT_QUALIFIED_MAX];

	ident_qualified_to(q, sizeof(q), c->schema, c->table);
	if (s->replan_lsn == c->lsn) {
		/* The session that just began read the catalog after this
		 * change was written, and still has no rule for its table. */
		wp_log(LOG_ERROR,
			   "source table \"%s\" matches a mirror, but it was not "
			   "mirrored when the session started again",
			   q);
		return SESSION_FATAL;
	}
	wp_log(LOG_NOTICE,
		   "source table \"%s\" is new and matches a mirror: the session "
		   "starts again to mirror it",
		   q);
	return session_end_replan(s, c);
}

void
session_mirror_free(struct session *s)
{
	struct session_mirror *sm = &s->mirror;

	for (size_t i = 0; i < sm->nowned; i++)
		mirror_rule_free(sm->owned[i]);
	free(sm->owned);
	free(sm->rules);
	free(sm->rule_kafka);
	free(sm->sig);
	memset(sm, 0, sizeof(*sm));
}
