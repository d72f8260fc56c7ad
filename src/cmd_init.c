/* cmd_init.c: `walpipe init`: a commented configuration written from a live source database. */
#include "walpipe/buf.h"
#include "walpipe/commands.h"
#include "walpipe/ident.h"
#include "walpipe/mem.h"
#include "walpipe/mirror_pg.h"
#include "walpipe/pgconn.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct init_opts {
	const char *source, *target, *name, *to, *out;
	char **mirror, **exclude;
	size_t nmirror, nexclude;
	bool explicit_;
	bool create_targets;
	bool force;
};

static void
init_usage(FILE *out)
{
	fprintf(out,
			"Usage: walpipe init --source CONNINFO --target CONNINFO "
			"[OPTIONS]\n\n"
			"Write a commented configuration that mirrors the tables of a "
			"live source\ndatabase, ready to tune and to validate with "
			"walpipe check --live.\n\n"
			"Options:\n"
			"  -d, --source CONNINFO   the source database\n"
			"  -t, --target CONNINFO   the analytics database\n"
			"  -n, --name NAME         the source's name (default: the "
			"source database's)\n"
			"  -m, --mirror PATTERN    tables to mirror, schema.table with "
			"* (repeatable;\n"
			"                          default: every schema's tables, *.*)\n"
			"  -x, --exclude PATTERN   tables to leave out (repeatable)\n"
			"      --to SCHEMA         the target schema (default: mirror)\n"
			"      --explicit          one mapping per table, every column "
			"written out,\n"
			"                          instead of a mirror section\n"
			"      --create-targets    with --explicit: create the target "
			"tables now\n"
			"  -o, --output FILE       write FILE (mode 0640; default: "
			"stdout)\n"
			"      --force             overwrite FILE\n\n"
			"Tables that cannot be mirrored (no replica identity that logs "
			"their updates\nand deletes) are excluded, each with the reason "
			"and the fix as a comment.\n");
}

static bool
add_arg(char ***list, size_t *n, const char *v)
{
	*list = wp_realloc(*list, (*n + 1) * sizeof(char *));
	(*list)[(*n)++] = (char *) v;
	return true;
}

static int
init_parse_args(int argc, char **argv, struct init_opts *o)
{
	static const struct option longopts[] = {
		{"source", required_argument, NULL, 'd'},
		{"target", required_argument, NULL, 't'},
		{"name", required_argument, NULL, 'n'},
		{"mirror", required_argument, NULL, 'm'},
		{"exclude", required_argument, NULL, 'x'},
		{"to", required_argument, NULL, 1},
		{"explicit", no_argument, NULL, 2},
		{"create-targets", no_argument, NULL, 3},
		{"output", required_argument, NULL, 'o'},
		{"force", no_argument, NULL, 4},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->to = "mirror";
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:t:n:m:x:o:h", longopts, NULL)) !=
		   -1) {
		switch (c) {
		case 'd': o->source = optarg; break;
		case 't': o->target = optarg; break;
		case 'n': o->name = optarg; break;
		case 'm': add_arg(&o->mirror, &o->nmirror, optarg); break;
		case 'x': add_arg(&o->exclude, &o->nexclude, optarg); break;
		case 'o': o->out = optarg; break;
		case 1: o->to = optarg; break;
		case 2: o->explicit_ = true; break;
		case 3: o->create_targets = true; break;
		case 4: o->force = true; break;
		case 'h': init_usage(stdout); return 0;
		default: init_usage(stderr); return 2;
		}
	}
	if (optind < argc || !o->source || !o->target) {
		fprintf(stderr, "walpipe init: %s\n",
				optind < argc ? "unexpected argument"
							  : "--source and --target are required");
		init_usage(stderr);
		return 2;
	}
	if (o->create_targets && !o->explicit_) {
		fprintf(stderr, "walpipe init: --create-targets goes with "
						"--explicit (a mirror creates its targets itself)\n");
		return 2;
	}
	if (o->nmirror == 0)
		add_arg(&o->mirror, &o->nmirror, "*.*");
	return -1;
}

/* s as a YAML scalar: plain when it is a simple name or pattern, else in
 * single quotes ('' for one). */
static void
yaml_scalar(struct buf *b, const char *s)
{
	bool plain = *s != '\0';

	for (const char *p = s; *p && plain; p++)
		plain = (*p >= 'a' && *p <= 'z') || *p == '_' || *p == '.' ||
				(p > s && ((*p >= '0' && *p <= '9') || *p == '$' ||
						   *p == '*'));
	if (plain) {
		buf_append_str(b, s);
		return;
	}
	buf_append_char(b, '\'');
	for (const char *p = s; *p; p++) {
		if (*p == '\'')
			buf_append_char(b, '\'');
		buf_append_char(b, *p);
	}
	buf_append_char(b, '\'');
}

/* A name (or schema.table) in the configuration's notation, as YAML. */
static void
yaml_name(struct buf *b, const char *schema, const char *name)
{
	struct buf n = BUF_INIT;

	if (schema) {
		ident_append(&n, schema);
		buf_append_char(&n, '.');
	}
	ident_append(&n, name);
	yaml_scalar(b, n.data);
	buf_free(&n);
}

static bool
parse_patterns(char **texts, size_t n, struct mirror_pattern **out)
{
	char err[512];

	*out = wp_calloc(n ? n : 1, sizeof(**out));
	for (size_t i = 0; i < n; i++)
		if (!mirror_pattern_parse(texts[i], &(*out)[i], err, sizeof(err))) {
			fprintf(stderr, "walpipe init: %s\n", err);
			return false;
		}
	return true;
}

static void
header(struct buf *y, const struct init_opts *o, const char *name,
	   size_t ntables, size_t nrefused)
{
	char day[32];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	buf_appendf(y,
				"# walpipe configuration for source \"%s\", written by "
				"walpipe init on %s:\n"
				"# %zu table(s) %s%s.\n"
				"# Tune it (conf/example.yaml describes every key), then\n"
				"#   walpipe check --live -c FILE\n"
				"#   walpipe run -c FILE   (or systemctl enable --now "
				"walpipe@%s)\n",
				name, day, ntables,
				o->explicit_ ? "mapped one by one" : "matched by the mirror",
				nrefused ? ", some excluded (see the comments)" : "", name);
	buf_appendf(y, "\nsource:\n  name: %s\n  conninfo: ", name);
	yaml_scalar(y, o->source);
	buf_append_str(y, "\n  create_slot: true\n");
}

static void
excluded(struct buf *y, const struct mirror_source *t, const char *why)
{
	buf_append_str(y, "      - ");
	yaml_name(y, t->schema, t->table);
	buf_appendf(y, "   # %s\n", why);
}

static void
write_mirror(struct buf *y, const struct init_opts *o,
			 const struct mirror_source *t, size_t n)
{
	bool any = o->nexclude > 0;
	char why[1024];

	buf_append_str(y, "\nmirror:\n  - from: [");
	for (size_t i = 0; i < o->nmirror; i++) {
		buf_append_str(y, i ? ", " : "");
		yaml_scalar(y, o->mirror[i]);
	}
	buf_append_str(y, "]\n    exclude:\n");
	for (size_t i = 0; i < o->nexclude; i++) {
		buf_append_str(y, "      - ");
		yaml_scalar(y, o->exclude[i]);
		buf_append_char(y, '\n');
	}
	for (size_t i = 0; i < n; i++)
		if (!mirror_source_ok(&t[i], why, sizeof(why))) {
			excluded(y, &t[i], why);
			any = true;
		}
	if (!any) {
		/* An empty list is an error: keep the key as a hint. */
		y->len -= strlen("    exclude:\n");
		y->data[y->len] = '\0';
		buf_append_str(y, "    # exclude: [public.schema_migrations]\n");
	}
	buf_append_str(y, "    to: ");
	yaml_name(y, NULL, o->to);
	buf_append_str(y, "\n    # soft_delete: deleted_at\n"
					  "    # metadata: { _lsn: $lsn, _committed_at: "
					  "$commit_time }\n");
}

static void
write_mapping(struct buf *y, const struct init_opts *o,
			  const struct mirror_source *t)
{
	buf_append_str(y, "  - from: ");
	yaml_name(y, t->schema, t->table);
	buf_append_str(y, "\n    to: ");
	yaml_name(y, o->to, t->table);
	if (t->nkey == 0)
		buf_append_str(y, "\n    mode: keyless   # REPLICA IDENTITY FULL");
	else {
		buf_append_str(y, "\n    key: [");
		for (size_t k = 1; k <= t->nkey; k++)
			for (size_t i = 0; i < t->ncols; i++)
				if ((size_t) t->cols[i].key_pos == k) {
					buf_append_str(y, k > 1 ? ", " : "");
					yaml_name(y, NULL, t->cols[i].name);
				}
		buf_append_char(y, ']');
	}
	buf_append_str(y, "\n    columns:\n");
	for (size_t i = 0; i < t->ncols; i++) {
		buf_append_str(y, "      ");
		yaml_name(y, NULL, t->cols[i].name);
		buf_append_str(y, ": ");
		yaml_name(y, NULL, t->cols[i].name);
		buf_appendf(y, "   # %s%s\n", t->cols[i].type,
					t->cols[i].not_null ? " not null" : "");
	}
}

static void
write_explicit(struct buf *y, const struct init_opts *o,
			   const struct mirror_source *t, size_t n)
{
	char why[1024];

	buf_append_str(y, "  tables:\n");
	for (size_t i = 0; i < n; i++) {
		bool ok = mirror_source_ok(&t[i], why, sizeof(why));

		buf_append_str(y, ok ? "    - " : "    # - ");
		yaml_name(y, t[i].schema, t[i].table);
		if (!ok)
			buf_appendf(y, "   # %s", why);
		buf_append_char(y, '\n');
	}
	buf_append_str(y, "\nmappings:\n");
	for (size_t i = 0; i < n; i++)
		if (mirror_source_ok(&t[i], why, sizeof(why)))
			write_mapping(y, o, &t[i]);
}

/* --create-targets: every target of t, in one transaction. */
static bool
create_targets(PGconn *src, PGconn *ana, const struct init_opts *o,
			   const struct mirror_source *t, size_t n)
{
	struct mirror_spec spec = {o->to, NULL, NULL, 0};
	char err[4096], why[16];
	bool ok = pgconn_exec(ana, "BEGIN", "could not begin", NULL, err,
						  sizeof(err)) == PGCONN_OK;

	for (size_t i = 0; ok && i < n; i++)
		ok = !mirror_source_ok(&t[i], why, sizeof(why)) ||
			 mirror_pg_ensure_target(src, ana, &t[i], &spec, NULL, err,
									 sizeof(err)) >= 0;
	if (!ok)
		PQclear(PQexec(ana, "ROLLBACK"));
	else
		ok = pgconn_exec(ana, "COMMIT", "could not create the targets", NULL,
						 err, sizeof(err)) == PGCONN_OK;
	if (!ok)
		fprintf(stderr, "walpipe init: %s\n", err);
	return ok;
}

static bool
write_out(const struct init_opts *o, const struct buf *y)
{
	FILE *f;
	int fd;

	if (!o->out)
		return fwrite(y->data, 1, y->len, stdout) == y->len;
	fd = open(o->out, O_WRONLY | O_CREAT | O_TRUNC | (o->force ? 0 : O_EXCL),
			  0640);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "walpipe init: could not create \"%s\": %m%s\n",
				o->out, o->force ? "" : " (--force overwrites)");
		if (fd >= 0)
			close(fd);
		return false;
	}
	if (fwrite(y->data, 1, y->len, f) != y->len || fclose(f) != 0) {
		fprintf(stderr, "walpipe init: could not write \"%s\": %m\n", o->out);
		return false;
	}
	return true;
}

static PGconn *
init_connect(const char *conninfo, const char *what)
{
	PGconn *c = pgconn_connect(conninfo, "walpipe init", false);

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "walpipe init: could not connect to the %s database: %s",
				what, PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	return c;
}

int
cmd_init(int argc, char **argv)
{
	struct init_opts o;
	struct mirror_pattern *from = NULL, *ex = NULL;
	struct mirror_source *t = NULL;
	PGconn *src = NULL, *ana = NULL;
	struct buf y = BUF_INIT;
	size_t n = 0, nrefused = 0;
	char err[1024], why[16];
	int rc = init_parse_args(argc, argv, &o);

	if (rc >= 0)
		goto done;
	rc = 1;
	if (!parse_patterns(o.mirror, o.nmirror, &from) ||
		!parse_patterns(o.exclude, o.nexclude, &ex))
		goto done;
	if ((src = init_connect(o.source, "source")) == NULL ||
		(ana = init_connect(o.target, "analytics")) == NULL) {
		rc = 2;
		goto done;
	}
	if (!mirror_pg_sources(src, from, o.nmirror, ex, o.nexclude, &t, &n, err,
						   sizeof(err))) {
		fprintf(stderr, "walpipe init: %s\n", err);
		goto done;
	}
	if (n == 0) {
		fprintf(stderr, "walpipe init: no source table matches\n");
		goto done;
	}
	for (size_t i = 0; i < n; i++)
		nrefused += !mirror_source_ok(&t[i], why, sizeof(why));
	header(&y, &o, o.name ? o.name : PQdb(src), n - nrefused, nrefused);
	if (o.explicit_)
		write_explicit(&y, &o, t, n);
	buf_append_str(&y, "\ntarget:\n  conninfo: ");
	yaml_scalar(&y, o.target);
	buf_append_str(&y, "\n");
	if (!o.explicit_)
		write_mirror(&y, &o, t, n);
	if (o.create_targets && !create_targets(src, ana, &o, t, n))
		goto done;
	if (write_out(&o, &y)) {
		fprintf(stderr, "walpipe init: %zu table(s)%s\n", n - nrefused,
				nrefused ? ", excluded tables that cannot be mirrored (see "
						   "the comments)"
						 : "");
		rc = 0;
	}
done:
	for (size_t i = 0; from && i < o.nmirror; i++)
		mirror_pattern_free(&from[i]);
	for (size_t i = 0; ex && i < o.nexclude; i++)
		mirror_pattern_free(&ex[i]);
	free(from);
	free(ex);
	free(o.mirror);
	free(o.exclude);
	mirror_pg_free_sources(t, n);
	PQfinish(src);
	PQfinish(ana);
	buf_free(&y);
	return rc;
}
