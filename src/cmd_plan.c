/* cmd_plan.c: `walpipe plan`: what a reload with another file would change, against the rules the running source applies. */
#include "walpipe/buf.h"
#include "walpipe/commands.h"
#include "walpipe/config.h"
#include "walpipe/ident.h"
#include "walpipe/map.h"
#include "walpipe/mem.h"
#include "walpipe/mirror_pg.h"
#include "walpipe/pgconn.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One rule of either side: its source table, target, origin and text. */
struct plan_rule {
	char *from, *to, *origin, *text;
	bool matched;
};

struct plan_side {
	struct plan_rule *r;
	size_t n;
};

static void
side_add(struct plan_side *s, const char *from, const char *to,
		 const char *origin, const char *text)
{
	struct plan_rule *p;

	s->r = wp_realloc(s->r, (s->n + 1) * sizeof(*s->r));
	p = &s->r[s->n++];
	p->from = wp_strdup(from);
	p->to = wp_strdup(to);
	p->origin = wp_strdup(origin);
	p->text = wp_strdup(text);
	p->matched = false;
}

static void
side_free(struct plan_side *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->r[i].from);
		free(s->r[i].to);
		free(s->r[i].origin);
		free(s->r[i].text);
	}
	free(s->r);
}

static void
side_add_rule(struct plan_side *s, const struct map_rule *r,
			  const char *origin)
{
	struct buf text = BUF_INIT;
	char from[IDENT_QUALIFIED_MAX], to[IDENT_QUALIFIED_MAX];

	map_rule_tables(r, from, to, sizeof(from));
	map_rule_describe(&text, r);
	side_add(s, from, to, origin, text.data);
	buf_free(&text);
}

/* The new file's rules: its mappings, and the tables its mirrors take
 * now (those that cannot be mirrored are listed in refused). */
static bool
new_rules(const struct wp_config *cfg, PGconn *src, struct plan_side *out,
		  struct buf *refused)
{
	struct map_rule *rules = config_rules(cfg);
	char err[1024];
	bool ok = true;

	for (size_t i = 0; i < cfg->nmappings; i++)
		side_add_rule(out, &rules[i], "mapping");
	for (size_t i = 0; ok && i < cfg->nmirrors; i++) {
		struct mirror_source *t;
		size_t n;

		ok = mirror_pg_taken(src, cfg->mirrors, cfg->nmirrors, i, rules,
							 cfg->nmappings, &t, &n, err, sizeof(err));
		if (!ok) {
			fprintf(stderr, "walpipe plan: %s\n", err);
			break;
		}
		for (size_t k = 0; k < n; k++) {
			struct mirror_table view;
			struct map_rule *r;

			if (!mirror_source_ok(&t[k], err, sizeof(err))) {
				buf_appendf(refused, "  cannot mirror: %s\n", err);
				continue;
			}
			mirror_source_view(&t[k], &view);
			r = mirror_rule_new(&cfg->mirrors[i].spec, t[k].schema, &view);
			side_add_rule(out, r, "mirror");
			mirror_rule_free(r);
			mirror_source_view_free(&view);
		}
		mirror_pg_free_sources(t, n);
	}
	free(rules);
	return ok;
}

/* The rules walpipe run recorded for the source (none: -1 with nothing
 * recorded yet, printed). */
static int
applied_rules(const struct wp_config *cfg, PGconn *ana, struct plan_side *out,
			  char *when, size_t whenlen)
{
	struct buf q = BUF_INIT;
	const char *params[1] = {cfg->source.name};
	PGresult *r;
	int rc = 0;

	buf_append_str(&q, "SELECT source_table, target, origin, rule, "
					   "to_char(updated_at, 'YYYY-MM-DD HH24:MI:SSOF') FROM ");
	map_quote_ident(&q, cfg->target.schema);
	buf_append_str(&q, ".applied_rules WHERE source = $1 ORDER BY 1, 2");
	r = PQexecParams(ana, q.data, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		/* 42P01: walpipe's schema predates version 4, or is not there. */
		rc = strcmp(pgconn_sqlstate(r), "42P01") == 0 ? -1 : -2;
		if (rc == -2)
			fprintf(stderr, "walpipe plan: could not read the applied rules: %s",
					PQerrorMessage(ana));
	} else if (PQntuples(r) == 0)
		rc = -1;
	for (int i = 0; rc == 0 && i < PQntuples(r); i++)
		side_add(out, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
				 PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
	if (rc == 0)
		snprintf(when, whenlen, "%s", PQgetvalue(r, 0, 4));
	PQclear(r);
	buf_free(&q);
	return rc;
}

/* The rows of table from (the planner's estimate, -1: unknown) and the
 * copy rate the source's snapshots have measured (0: none yet). */
static void
estimate(const struct wp_config *cfg, PGconn *src, PGconn *ana,
		 const char *from, double *rows, double *rate)
{
	const char *p1[1] = {from};
	const char *p2[1] = {cfg->source.name};
	struct buf q = BUF_INIT;
	PGresult *r;

	r = PQexecParams(src,
					 /* Never analyzed (-1): the statistics' live rows. */
					 "SELECT CASE WHEN c.reltuples >= 0 THEN c.reltuples "
					 "       ELSE (SELECT s.n_live_tup FROM "
					 "             pg_catalog.pg_stat_all_tables s "
					 "             WHERE s.relid = c.oid) END "
					 "  FROM pg_catalog.pg_class c WHERE "
					 "c.oid = pg_catalog.to_regclass($1)",
					 1, NULL, p1, NULL, NULL, 0);
	*rows = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
					!PQgetisnull(r, 0, 0)
				? atof(PQgetvalue(r, 0, 0))
				: -1;
	PQclear(r);
	/* The online backfills' rate when there is one (what a reload
	 * starts), else the snapshots'. */
	buf_append_str(&q, "SELECT coalesce((SELECT sum(rows_copied) / nullif("
					   "sum(extract(epoch FROM finished_at - started_at)), 0) "
					   "FROM ");
	map_quote_ident(&q, cfg->target.schema);
	buf_append_str(&q, ".backfills WHERE source = $1 AND state = 'done' AND "
					   "finished_at > started_at), (SELECT sum(rows_copied) / "
					   "nullif(sum(extract(epoch FROM finished_at - "
					   "started_at)), 0) FROM ");
	map_quote_ident(&q, cfg->target.schema);
	buf_append_str(&q, ".snapshot_tables WHERE source = $1 AND state = "
					   "'done' AND finished_at > started_at), 0)");
	r = PQexecParams(ana, q.data, 1, NULL, p2, NULL, NULL, 0);
	*rate = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1
				? atof(PQgetvalue(r, 0, 0))
				: 0;
	PQclear(r);
	buf_free(&q);
}

static void
print_size(FILE *out, const struct wp_config *cfg, PGconn *src, PGconn *ana,
		   const char *from)
{
	double rows, rate;

	estimate(cfg, src, ana, from, &rows, &rate);
	if (rows < 0) {
		fprintf(out, "row count unknown");
		return;
	}
	fprintf(out, "about %.0f rows", rows);
	if (rate > 0)
		fprintf(out, ", about %.0f s at the %.0f rows/s its copies ran",
				rows / rate + 0.5, rate);
}

/* Whether rule text (map_rule_describe's) has line, e.g. "mode upsert". */
static bool
has_line(const char *text, const char *line)
{
	size_t len = strlen(line);

	for (const char *p = text; *p;) {
		size_t l = strcspn(p, "\n");

		if (l == len && strncmp(p, line, len) == 0)
			return true;
		p += l + (p[l] == '\n');
	}
	return false;
}

/*
 * What the reload does to the existing rows of mapping n (o: the rule it
 * replaces, NULL if added): the online backfill (docs/snapshots.md) of
 * upsert mappings added or changed and append mappings added, with its
 * size; what happens to rows that no longer match.
 */
static void
plan_mapping(FILE *out, const struct wp_config *cfg, PGconn *src, PGconn *ana,
			 const struct plan_rule *o, const struct plan_rule *n)
{
	bool upsert = has_line(n->text, "mode upsert");
	bool append = has_line(n->text, "mode append");

	if (!upsert && !(append && !o)) {
		fprintf(out, "%s\n",
				append	  ? "past events stay as they were (a changed "
							"append mapping is not backfilled)"
				: !o	  ? "existing rows are not copied (a keyless "
							"mapping is not backfilled)"
						  : "existing target rows keep the old rule (a "
							"keyless mapping is not backfilled)");
		return;
	}
	if (!cfg->backfill.automatic) {
		fprintf(out, "backfill.auto is off: run walpipe snapshot --table %s "
					 "after the reload to %s (",
				n->from, o ? "rewrite the target rows" : "copy the rows");
		print_size(out, cfg, src, ana, n->from);
		fprintf(out, ")\n");
		return;
	}
	fprintf(out, "the reload %s online, in chunks, while streaming (",
			o ? "rewrites the target rows" : "copies the existing rows");
	print_size(out, cfg, src, ana, n->from);
	fprintf(out, ")");
	if (o && upsert)
		fprintf(out, "; rows that no longer match are %s",
				has_line(n->text, "on_delete ignore") ? "kept (on_delete: ignore)"
				: has_line(n->text, "on_delete delete") ? "deleted"
														: "marked deleted");
	fprintf(out, "\n");
}

/* The lines of a that b lacks, each prefixed with sign. */
static void
print_lines_not_in(FILE *out, const char *a, const char *b, char sign)
{
	for (const char *p = a; *p;) {
		size_t len = strcspn(p, "\n");
		bool found = false;

		for (const char *q = b; *q && !found;) {
			size_t l2 = strcspn(q, "\n");

			found = l2 == len && strncmp(p, q, len) == 0;
			q += l2 + (q[l2] == '\n');
		}
		if (!found)
			fprintf(out, "           %c %.*s\n", sign, (int) len, p);
		p += len + (p[len] == '\n');
	}
}

static struct plan_rule *
find(struct plan_side *s, const struct plan_rule *r)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->r[i].from, r->from) == 0 &&
			strcmp(s->r[i].to, r->to) == 0)
			return &s->r[i];
	return NULL;
}

static size_t
report(FILE *out, const struct wp_config *cfg, PGconn *src, PGconn *ana,
	   struct plan_side *now, struct plan_side *next)
{
	size_t same = 0, changes = 0;

	for (size_t i = 0; i < next->n; i++) {
		struct plan_rule *n = &next->r[i], *o = find(now, n);

		if (o)
			o->matched = true;
		if (o && strcmp(o->text, n->text) == 0) {
			same++;
			continue;
		}
		changes++;
		fprintf(out, "  %-8s %s -> %s (%s): ", o ? "changed" : "added",
				n->from, n->to[0] ? n->to : "staging only", n->origin);
		if (!o && strcmp(n->origin, "mirror") == 0) {
			fprintf(out, "the reload creates the target and copies the "
						 "table's ");
			print_size(out, cfg, src, ana, n->from);
			fprintf(out, "\n");
			continue;
		}
		plan_mapping(out, cfg, src, ana, o, n);
		if (o) {
			print_lines_not_in(out, o->text, n->text, '-');
			print_lines_not_in(out, n->text, o->text, '+');
		}
	}
	for (size_t i = 0; i < now->n; i++) {
		if (now->r[i].matched)
			continue;
		changes++;
		fprintf(out, "  %-8s %s -> %s (%s): its target rows are left as "
					 "they are\n",
				"removed", now->r[i].from,
				now->r[i].to[0] ? now->r[i].to : "staging only",
				now->r[i].origin);
	}
	fprintf(out, "  unchanged: %zu rule(s)\n", same);
	return changes;
}

int
cmd_plan_report(const struct wp_config *cfg, PGconn *src, PGconn *ana,
				FILE *out, bool quiet_when_unrecorded)
{
	struct plan_side now = {NULL, 0}, next = {NULL, 0};
	struct buf refused = BUF_INIT;
	char when[64] = "";
	int got = applied_rules(cfg, ana, &now, when, sizeof(when));
	int rc = 0;

	if (got == -2)
		rc = 2;
	else if (got == -1 && quiet_when_unrecorded)
		rc = 0;
	else if (!new_rules(cfg, src, &next, &refused))
		rc = 2;
	else {
		if (got == -1)
			fprintf(out, "plan: source \"%s\" has no recorded rules yet "
						 "(walpipe run records them at each start): every "
						 "rule is new\n",
					cfg->source.name);
		else
			fprintf(out, "plan: against the rules source \"%s\" applies "
						 "(recorded %s):\n",
					cfg->source.name, when);
		report(out, cfg, src, ana, &now, &next);
		fputs(refused.data ? refused.data : "", out);
		rc = refused.len ? 1 : 0;
	}
	side_free(&now);
	side_free(&next);
	buf_free(&refused);
	return rc;
}

int
cmd_plan(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = NULL;
	struct wp_config *cfg;
	PGconn *src, *ana;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (c == 'c')
			path = optarg;
		else {
			fprintf(c == 'h' ? stdout : stderr,
					"Usage: walpipe plan -c NEW.yaml\n\n"
					"Compare the mappings and mirrors of NEW.yaml with the "
					"rules the running\nsource applies (recorded in the "
					"analytics database at each start) and\nprint what a "
					"reload would change.  Exit status 0, 1 when a table "
					"cannot\nbe mirrored, 2 when the file or a database "
					"could not be read.\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (!path || optind < argc) {
		fprintf(stderr, "walpipe plan: -c NEW.yaml is required\n");
		return 2;
	}
	if ((cfg = cmd_config_load(path, &rc)) == NULL)
		return rc;
	if (!cfg->target.conninfo) {
		fprintf(stderr, "walpipe plan: the file has no target: there is "
						"nothing applied to compare with\n");
		config_free(cfg);
		return 2;
	}
	src = pgconn_connect(cfg->source.conninfo, "walpipe plan", false);
	ana = pgconn_connect(cfg->target.conninfo, "walpipe plan", false);
	if (PQstatus(src) != CONNECTION_OK || PQstatus(ana) != CONNECTION_OK) {
		fprintf(stderr, "walpipe plan: could not connect to the %s database: %s",
				PQstatus(src) != CONNECTION_OK ? "source" : "analytics",
				PQerrorMessage(PQstatus(src) != CONNECTION_OK ? src : ana));
		rc = 2;
	} else
		rc = cmd_plan_report(cfg, src, ana, stdout, false);
	PQfinish(src);
	PQfinish(ana);
	config_free(cfg);
	return rc;
}
