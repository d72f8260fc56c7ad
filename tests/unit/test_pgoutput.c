/* test_pgoutput.c: unit tests of the pgoutput decoder on captured and crafted messages. */
#include "walpipe/batch.h"
#include "walpipe/changefmt.h"
#include "walpipe/pgoutput.h"
#include "walpipe/wal2json.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MAXLINES 256

/* One file of tests/data/pgoutput, one line each. */
struct lines {
	char *v[MAXLINES];
	size_t n;
};

static void
load(struct lines *l, const char *name)
{
	char path[1024];
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/pgoutput/%s",
			 getenv("WALPIPE_TEST_DATA") ? getenv("WALPIPE_TEST_DATA")
										 : "tests/data",
			 name);
	f = fopen(path, "r");
	assert_non_null(f);
	l->n = 0;
	while ((n = getline(&line, &cap, f)) > 0 && l->n < MAXLINES) {
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		l->v[l->n++] = strdup(line);
	}
	free(line);
	fclose(f);
}

static void
unload(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

/* A captured line "lsn|hex" into *lsn and the message bytes (malloc). */
static char *
unhex_line(const char *line, lsn_t *lsn, size_t *len)
{
	const char *bar = strchr(line, '|');
	char lsntext[32];
	char *out;
	size_t n;

	assert_non_null(bar);
	snprintf(lsntext, sizeof(lsntext), "%.*s", (int) (bar - line), line);
	assert_true(lsn_parse(lsntext, lsn, NULL, 0));
	n = strlen(bar + 1) / 2;
	out = malloc(n + 1);
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		assert_int_equal(sscanf(bar + 1 + 2 * i, "%2x", &v), 1);
		out[i] = (char) v;
	}
	*len = n;
	return out;
}

/* Each record the captured stream makes, in order, to fn. */
static void
each_captured(bool keep_types, void (*fn)(const struct w2j_change *, void *),
			  void *arg)
{
	struct lines cap;
	struct pgo_decoder *d = pgo_decoder_new();
	char err[512];

	pgo_decoder_keep_types(d, keep_types);
	load(&cap, "captured.txt");
	for (size_t i = 0; i < cap.n; i++) {
		lsn_t lsn;
		size_t len;
		char *msg = unhex_line(cap.v[i], &lsn, &len);
		int n = pgo_decode(d, lsn, msg, len, err, sizeof(err));

		if (n < 0)
			fail_msg("line %zu: %s", i + 1, err);
		for (int k = 0; k < n; k++) {
			struct w2j_change c;

			pgo_decoder_change(d, (size_t) k, &c);
			fn(&c, arg);
		}
		free(msg);
	}
	unload(&cap);
	pgo_decoder_free(d);
}

static void
add_json_line(const struct w2j_change *c, void *arg)
{
	struct lines *out = arg;
	struct buf b = BUF_INIT;

	changefmt_json(&b, c);
	out->v[out->n++] = b.data;
}

/* Every record the captured stream makes, as changefmt JSON lines. */
static void
decode_capture(struct lines *out, bool keep_types)
{
	out->n = 0;
	each_captured(keep_types, add_json_line, out);
}

/* A row change or message through the batch and batch_json: the same
 * JSON as the decoder's. */
static void
check_batch_json(const struct w2j_change *c, void *arg)
{
	struct batch *b = arg;
	struct buf want = BUF_INIT, got = BUF_INIT;
	char err[512];

	if (c->action == W2J_BEGIN || c->action == W2J_COMMIT)
		return;
	changefmt_json(&want, c);
	assert_true(batch_add(b, c, NULL, 0, 0, 1, c->timestamp, err,
						  sizeof(err)));
	batch_json(b, batch_get(b, batch_count(b) - 1), &got);
	assert_string_equal(got.data, want.data);
	buf_free(&want);
	buf_free(&got);
}

/*
 * The pgoutput path keeps no JSON in the batch: staging and dead letters
 * write it from the batch's copy (batch_json).  For every record of the
 * captured stream, that is byte for byte what the decoder writes.
 */
static void
test_batch_json_same(void **state)
{
	struct batch *b = batch_new(1 << 20);

	(void) state;
	each_captured(true, check_batch_json, b);
	/* the capture's row changes and messages */
	assert_int_equal(batch_count(b), 24);
	batch_free(b);
}

/* The captured stream decodes to exactly the reviewed records. */
static void
test_captured_exact(void **state)
{
	struct lines got, want;

	(void) state;
	decode_capture(&got, true);
	load(&want, "expected.jsonl");
	assert_int_equal(got.n, want.n);
	for (size_t i = 0; i < got.n; i++)
		assert_string_equal(got.v[i], want.v[i]);
	unload(&got);
	unload(&want);
}

static bool
special_number(const struct w2j_column *c)
{
	return c->kind == W2J_STRING &&
		   (strcmp(c->value, "NaN") == 0 || strcmp(c->value, "Infinity") == 0 ||
			strcmp(c->value, "-Infinity") == 0);
}

/* Columns equal as wal2json 2.5 sends them: its NaN and infinities are
 * null, and it names a domain where pgoutput names the base type. */
static void
assert_columns_match(const struct w2j_column *w, size_t nw,
					 const struct w2j_column *p, size_t np)
{
	assert_int_equal(nw, np);
	for (size_t i = 0; i < nw; i++) {
		assert_string_equal(w[i].name, p[i].name);
		if (strcmp(w[i].type, "posint") != 0)
			assert_string_equal(w[i].type, p[i].type);
		if (w[i].kind == W2J_NULL && special_number(&p[i]))
			continue;
		assert_int_equal(w[i].kind, p[i].kind);
		if (w[i].kind != W2J_NULL) {
			assert_int_equal(w[i].value_len, p[i].value_len);
			assert_memory_equal(w[i].value, p[i].value, w[i].value_len);
		}
	}
}

/*
 * The same workload through wal2json: every row change, truncate and
 * message is the same record, every commit has the same lsn, nextlsn,
 * xid and time.  (wal2json also sends empty transactions; pgoutput does
 * not.)
 */
static void
test_same_as_wal2json(void **state)
{
	struct lines w2j, cap;
	struct w2j_decoder *wd = w2j_decoder_new();
	struct pgo_decoder *pd = pgo_decoder_new();
	char err[512];
	size_t wi = 0, compared = 0, commits = 0;

	(void) state;
	load(&w2j, "wal2json.jsonl");
	load(&cap, "captured.txt");
	for (size_t i = 0; i < cap.n; i++) {
		lsn_t lsn;
		size_t len;
		char *msg = unhex_line(cap.v[i], &lsn, &len);
		int n = pgo_decode(pd, lsn, msg, len, err, sizeof(err));

		assert_true(n >= 0);
		for (int k = 0; k < n; k++) {
			struct w2j_change p, w;

			pgo_decoder_change(pd, (size_t) k, &p);
			if (p.action == W2J_BEGIN) {
				assert_int_equal(p.nextlsn, p.lsn + 1);
				continue;
			}
			/* The next wal2json record of the same kind. */
			for (;; wi++) {
				assert_true(wi < w2j.n);
				assert_true(w2j_decode(wd, w2j.v[wi], strlen(w2j.v[wi]), &w,
									   err, sizeof(err)));
				if (w.action == p.action && w.action != W2J_BEGIN)
					break;
			}
			wi++;
			assert_int_equal(w.lsn, p.lsn);
			assert_int_equal(w.nextlsn, p.nextlsn);
			assert_int_equal(w.xid, p.xid);
			if (w.timestamp)
				assert_string_equal(w.timestamp, p.timestamp);
			else
				assert_null(p.timestamp);
			if (p.action == W2J_COMMIT) {
				commits++;
				continue;
			}
			if (p.action == W2J_MESSAGE) {
				assert_int_equal(w.transactional, p.transactional);
				assert_string_equal(w.prefix, p.prefix);
				assert_string_equal(w.content, p.content);
			} else {
				assert_string_equal(w.schema, p.schema);
				assert_string_equal(w.table, p.table);
			}
			assert_columns_match(w.columns, w.ncolumns, p.columns,
								 p.ncolumns);
			assert_columns_match(w.identity, w.nidentity, p.identity,
								 p.nidentity);
			assert_columns_match(w.pk, w.npk, p.pk, p.npk);
			compared++;
		}
		free(msg);
	}
	assert_int_equal(compared, 24);
	assert_int_equal(commits, 16);
	unload(&w2j);
	unload(&cap);
	w2j_decoder_free(wd);
	pgo_decoder_free(pd);
}

/* Without types (walpipe run), no column and no pk names a type. */
static void
test_without_types(void **state)
{
	struct lines got;

	(void) state;
	decode_capture(&got, false);
	assert_true(got.n > 0);
	for (size_t i = 0; i < got.n; i++)
		assert_null(strstr(got.v[i], "\"type\""));
	unload(&got);
}

/* Decode the captured lines first..last (1-based) into d. */
static void
feed(struct pgo_decoder *d, const struct lines *cap, size_t first,
	 size_t last)
{
	char err[512];

	for (size_t i = first; i <= last; i++) {
		lsn_t lsn;
		size_t len;
		char *msg = unhex_line(cap->v[i - 1], &lsn, &len);

		if (pgo_decode(d, lsn, msg, len, err, sizeof(err)) < 0)
			fail_msg("line %zu: %s", i, err);
		free(msg);
	}
}

/* The line of captured.txt whose message starts with hex prefix. */
static size_t
find_line(const struct lines *cap, const char *hex_prefix, size_t from)
{
	for (size_t i = from; i < cap->n; i++) {
		const char *bar = strchr(cap->v[i], '|');

		if (strncmp(bar + 1, hex_prefix, strlen(hex_prefix)) == 0)
			return i + 1;
	}
	fail_msg("no captured message starts with %s", hex_prefix);
	return 0;
}

/*
 * Every proper prefix of every captured message, and the message with a
 * byte more, is refused with a message naming it; the cache is as before
 * (the whole stream still decodes to the expected records afterwards).
 */
static void
test_truncated_refused(void **state)
{
	struct lines cap, want;
	struct pgo_decoder *d = pgo_decoder_new();
	char err[512];
	size_t records = 0;

	(void) state;
	load(&cap, "captured.txt");
	load(&want, "expected.jsonl");
	for (size_t i = 0; i < cap.n; i++) {
		lsn_t lsn;
		size_t len;
		char *msg = unhex_line(cap.v[i], &lsn, &len);
		int n;

		msg = realloc(msg, len + 1);
		msg[len] = 'x';
		for (size_t k = 0; k < len; k += (k < 64 ? 1 : 97)) {
			assert_int_equal(pgo_decode(d, lsn, msg, k, err, sizeof(err)), -1);
			assert_non_null(strstr(err, "invalid pgoutput message"));
		}
		assert_int_equal(pgo_decode(d, lsn, msg, len + 1, err, sizeof(err)),
						 -1);
		assert_non_null(strstr(err, "1 bytes after the end of the message"));
		n = pgo_decode(d, lsn, msg, len, err, sizeof(err));
		assert_true(n >= 0);
		for (int k = 0; k < n; k++) {
			struct w2j_change c;
			struct buf b = BUF_INIT;

			pgo_decoder_change(d, (size_t) k, &c);
			changefmt_json(&b, &c);
			assert_string_equal(b.data, want.v[records++]);
			buf_free(&b);
		}
		free(msg);
	}
	assert_int_equal(records, want.n);
	unload(&cap);
	unload(&want);
	pgo_decoder_free(d);
}

/* A change of a relation no 'R' described, an unknown message type, a
 * binary ('b') column: refused with the reason. */
static void
test_errors(void **state)
{
	struct pgo_decoder *d = pgo_decoder_new();
	char err[512];
	/* 'I' of relation 16385, 'N', 1 column 'n'. */
	const char ins[] = {'I', 0, 0, 0x40, 0x01, 'N', 0, 1, 'n'};
	/* 'R' 16385 "public" "t" 'd', 1 column: key "id" int4 -1. */
	const char rel[] = {'R', 0, 0, 0x40, 0x01, 'p', 'u', 'b', 'l', 'i', 'c',
						0, 't', 0, 'd', 0, 1, 1, 'i', 'd', 0, 0, 0, 0, 23,
						-1, -1, -1, -1};
	const char bin[] = {'I', 0, 0, 0x40, 0x01, 'N', 0, 1, 'b', 0, 0, 0, 4,
						0, 0, 0, 1};
	const char two[] = {'I', 0, 0, 0x40, 0x01, 'N', 0, 2, 'n', 'n'};
	const char dk[] = {'D', 0, 0, 0x40, 0x01, 'N', 0, 1, 'n'};

	(void) state;
	assert_int_equal(pgo_decode(d, 1, ins, sizeof(ins), err, sizeof(err)), -1);
	assert_string_equal(err, "invalid pgoutput message 'I' at byte 1: "
							 "relation 16385 was not described by a "
							 "Relation message");
	assert_int_equal(pgo_decode(d, 1, "Z", 1, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid pgoutput message 'Z' at byte 0: "
							 "unknown message type 0x5a");
	assert_int_equal(pgo_decode(d, 1, "", 0, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid pgoutput message at byte 0: empty "
							 "message");
	assert_int_equal(pgo_decode(d, 1, rel, sizeof(rel), err, sizeof(err)), 0);
	assert_int_equal(pgo_decode(d, 1, ins, sizeof(ins), err, sizeof(err)), 1);
	assert_int_equal(pgo_decode(d, 1, bin, sizeof(bin), err, sizeof(err)), -1);
	assert_string_equal(err, "invalid pgoutput message 'I' at byte 8: "
							 "unknown column kind 0x62");
	assert_int_equal(pgo_decode(d, 1, two, sizeof(two), err, sizeof(err)), -1);
	assert_string_equal(err, "invalid pgoutput message 'I' at byte 8: 2 "
							 "columns, but relation 16385 has 1");
	assert_int_equal(pgo_decode(d, 1, dk, sizeof(dk), err, sizeof(err)), -1);
	assert_string_equal(err, "invalid pgoutput message 'D' at byte 5: "
							 "unexpected tuple tag 0x4e, expected one of "
							 "\"KO\"");
	pgo_decoder_free(d);
}

/* A crafted relation with every numeric type: finite values are numbers,
 * NaN and the infinities strings; bool t/f become true/false. */
static void
test_value_kinds(void **state)
{
	static const struct {
		unsigned oid;
		const char *text;
		enum w2j_kind kind;
		const char *value;
	} cases[] = {
		{23, "-42", W2J_NUMBER, "-42"},
		{20, "9223372036854775807", W2J_NUMBER, "9223372036854775807"},
		{21, "7", W2J_NUMBER, "7"},
		{26, "4294967295", W2J_NUMBER, "4294967295"},
		{700, "1e+20", W2J_NUMBER, "1e+20"},
		{701, "-1.5e-07", W2J_NUMBER, "-1.5e-07"},
		{701, "-Infinity", W2J_STRING, "-Infinity"},
		{700, "NaN", W2J_STRING, "NaN"},
		{1700, "0.000", W2J_NUMBER, "0.000"},
		{1700, "Infinity", W2J_STRING, "Infinity"},
		{16, "t", W2J_BOOL, "true"},
		{16, "f", W2J_BOOL, "false"},
		{25, "12", W2J_STRING, "12"},
		{1007, "{1,2}", W2J_STRING, "{1,2}"},
		{16390, "5", W2J_STRING, "5"}, /* a domain over integer */
		{17, "\\xdeadbeef", W2J_STRING, "deadbeef"}, /* as wal2json */
		{17, "\\x", W2J_STRING, ""},
		{1001, "{\"\\\\x01\"}", W2J_STRING, "{\"\\\\x01\"}"}, /* bytea[] */
	};
	struct pgo_decoder *d = pgo_decoder_new();
	char err[512], msg[256];

	(void) state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct w2j_change c;
		size_t n = 0, tl = strlen(cases[i].text);

		/* 'R' 1 "s" "t" 'd', 1 column "v" of the case's type. */
		n = (size_t) snprintf(msg, sizeof(msg), "R%c%c%c%cs%ct%cd%c%c%cv",
							  0, 0, 0, 1, 0, 0, 0, 1, 0);
		msg[n++] = 0;
		msg[n++] = (char) (cases[i].oid >> 24);
		msg[n++] = (char) (cases[i].oid >> 16);
		msg[n++] = (char) (cases[i].oid >> 8);
		msg[n++] = (char) cases[i].oid;
		memset(msg + n, 0xff, 4);
		n += 4;
		assert_int_equal(pgo_decode(d, 5, msg, n, err, sizeof(err)), 0);
		/* 'I' 1 'N' 1 column 't' length text. */
		n = 0;
		memcpy(msg, "I\0\0\0\1N\0\1t\0\0\0", 12);
		n = 12;
		msg[n++] = (char) tl;
		memcpy(msg + n, cases[i].text, tl);
		n += tl;
		assert_int_equal(pgo_decode(d, 5, msg, n, err, sizeof(err)), 1);
		pgo_decoder_change(d, 0, &c);
		assert_int_equal(c.ncolumns, 1);
		assert_int_equal(c.columns[0].kind, cases[i].kind);
		assert_string_equal(c.columns[0].value, cases[i].value);
		assert_int_equal(c.lsn, 5);
		assert_string_equal(c.schema, "s");
	}
	pgo_decoder_free(d);
}

/* Truncate flags, the origin, a schema change replacing the cached
 * relation: from the captured stream. */
static void
test_truncate_origin_relation(void **state)
{
	struct lines cap;
	struct pgo_decoder *d = pgo_decoder_new();
	struct w2j_change c;
	size_t cascade, restart, origin;

	(void) state;
	load(&cap, "captured.txt");
	/* TRUNCATE parent CASCADE: parent and child, flag CASCADE. */
	cascade = find_line(&cap, "5400000002", 0);
	feed(d, &cap, 1, cascade);
	assert_int_equal(pgo_decoder_truncate_flags(d), PGO_TRUNCATE_CASCADE);
	pgo_decoder_change(d, 0, &c);
	assert_int_equal(c.action, W2J_TRUNCATE);
	assert_string_equal(c.table, "parent");
	pgo_decoder_change(d, 1, &c);
	assert_string_equal(c.table, "child");
	/* TRUNCATE full_t, s2.x RESTART IDENTITY. */
	restart = find_line(&cap, "5400000002", cascade);
	feed(d, &cap, cascade + 1, restart);
	assert_int_equal(pgo_decoder_truncate_flags(d),
					 PGO_TRUNCATE_RESTART_IDENTITY);
	pgo_decoder_change(d, 1, &c);
	assert_string_equal(c.schema, "s2");
	assert_string_equal(c.table, "x");
	/* The transaction from origin "upstream". */
	origin = find_line(&cap, "4f", restart);
	feed(d, &cap, restart + 1, origin);
	assert_string_equal(pgo_decoder_origin(d), "upstream");
	/* Its insert into s2.x has the column added after the truncate. */
	feed(d, &cap, origin + 1, origin + 1);
	pgo_decoder_change(d, 0, &c);
	assert_int_equal(c.ncolumns, 3);
	assert_string_equal(c.columns[2].name, "extra");
	assert_int_equal(c.columns[2].kind, W2J_NULL);
	unload(&cap);
	pgo_decoder_free(d);
}

/* format_type of PostgreSQL 15 for built-in types, with typmods. */
static void
test_builtin_type_names(void **state)
{
	struct lines ft;
	size_t known = 0;

	(void) state;
	load(&ft, "format_type.txt");
	for (size_t i = 0; i < ft.n; i++) {
		unsigned oid;
		int typmod, at = 0;
		char name[128];

		assert_int_equal(sscanf(ft.v[i], "%u|%d|%n", &oid, &typmod, &at), 2);
		if (!pgo_builtin_type_name(oid, typmod, name, sizeof(name))) {
			/* The first block lists types a column has: all known. */
			assert_true(i >= 37);
			continue;
		}
		known++;
		assert_string_equal(name, ft.v[i] + at);
	}
	assert_true(known >= 120);
	unload(&ft);
}

/* A type no 'Y' named shows as its OID until the shell names it. */
static void
test_set_type(void **state)
{
	struct pgo_decoder *d = pgo_decoder_new();
	char err[512];
	struct w2j_change c;
	const char rel[] = {'R', 0, 0, 0, 9, 0, 't', 0, 'f', 0, 1, 0, 'v', 0,
						0, 0, 0x40, 0x10, -1, -1, -1, -1};
	const char ins[] = {'I', 0, 0, 0, 9, 'N', 0, 1, 'n'};

	(void) state;
	assert_int_equal(pgo_decode(d, 1, rel, sizeof(rel), err, sizeof(err)), 0);
	assert_int_equal(pgo_decode(d, 1, ins, sizeof(ins), err, sizeof(err)), 1);
	pgo_decoder_change(d, 0, &c);
	assert_string_equal(c.schema, "pg_catalog");
	assert_string_equal(c.columns[0].type, "16400");
	assert_int_equal(c.npk, 0); /* FULL: no pk */
	pgo_decoder_set_type(d, 16400, "app.money2");
	assert_int_equal(pgo_decode(d, 1, ins, sizeof(ins), err, sizeof(err)), 1);
	pgo_decoder_change(d, 0, &c);
	assert_string_equal(c.columns[0].type, "app.money2");
	pgo_decoder_free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_captured_exact),
		cmocka_unit_test(test_batch_json_same),
		cmocka_unit_test(test_same_as_wal2json),
		cmocka_unit_test(test_without_types),
		cmocka_unit_test(test_truncated_refused),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_value_kinds),
		cmocka_unit_test(test_truncate_origin_relation),
		cmocka_unit_test(test_builtin_type_names),
		cmocka_unit_test(test_set_type),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
