/* test_mirror.c: unit tests of mirror patterns, target DDL and type widening. */
#include "walpipe/mirror.h"

#include "walpipe/buf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *pattern, *schema, *table;
	bool match;
} matches[] = {
	{"public.*", "public", "orders", true},
	{"public.*", "public", "", true},
	{"public.*", "sales", "orders", false},
	{"Public.Orders", "public", "orders", true},
	{"Public.Orders", "public", "Orders", false},
	{"public.\"Orders\"", "public", "Orders", true},
	{"public.order_*", "public", "order_items", true},
	{"public.order_*", "public", "order_", true},
	{"public.order_*", "public", "orders", false},
	{"public.*_log", "public", "audit_log", true},
	{"public.*_log", "public", "audit_log2", false},
	{"public.a*b*c", "public", "abc", true},
	{"public.a*b*c", "public", "axxbyybzc", true},
	{"public.a*b*c", "public", "axxbyyc", true},
	{"public.a*b*c", "public", "acb", false},
	{"public.**", "public", "x", true},
	{"*.audit_log", "tenant_1", "audit_log", true},
	{"*.audit_log", "tenant_1", "audit", false},
	{"*.*", "any", "thing", true},
	{"\"Sales Dept\".*", "Sales Dept", "x", true},
	{"\"Sales Dept\".*", "sales dept", "x", false},
	/* A star inside quotes is a wildcard too, the case exact. */
	{"sales.\"Order*\"", "sales", "Order*", true},
	{"sales.\"Order*\"", "sales", "OrderItems", true},
	{"sales.\"Order*\"", "sales", "orders", false},
	{"public.\"a.b*\"", "public", "a.bc", true},
	/* Non-ASCII bytes are name bytes, matched exactly. */
	{"public.caf\xc3\xa9_*", "public", "caf\xc3\xa9_1", true},
	{"public.T*", "public", "Tx", false},
	{"public.T*", "public", "tx", true},
};

static void
test_match(void **state)
{
	(void) state;
	for (size_t i = 0; i < N(matches); i++) {
		struct mirror_pattern p;
		char err[256];

		if (!mirror_pattern_parse(matches[i].pattern, &p, err, sizeof(err)))
			fail_msg("pattern %s: %s", matches[i].pattern, err);
		if (mirror_pattern_match(&p, matches[i].schema, matches[i].table) !=
			matches[i].match)
			fail_msg("pattern %s: %s.%s should%s match",
					 matches[i].pattern, matches[i].schema,
					 matches[i].table, matches[i].match ? "" : " not");
		mirror_pattern_free(&p);
	}
}

static const struct {
	const char *pattern, *err;
} bad[] = {
	{"orders",
	 "invalid table pattern \"orders\": a pattern is schema.table, as in "
	 "public.* or public.orders"},
	{"a.b.c",
	 "invalid table pattern \"a.b.c\": more than two parts; a pattern is "
	 "schema.table"},
	{"public.\"Or\"*",
	 "invalid table pattern \"public.\"Or\"*\": quote a part whole or not "
	 "at all"},
	{"public.or-ders*",
	 "invalid table pattern \"public.or-ders*\": unexpected \"-\" in "
	 "\"or-ders*\"; quote a part that holds other characters, as in "
	 "public.\"or-ders*\""},
	{"public.1*",
	 "invalid table pattern \"public.1*\": unexpected \"1\" in \"1*\"; "
	 "quote a part that holds other characters, as in public.\"1*\""},
	{"public.",
	 "invalid table pattern \"public.\": empty name"},
};

static void
test_bad(void **state)
{
	(void) state;
	for (size_t i = 0; i < N(bad); i++) {
		struct mirror_pattern p;
		char err[256];

		if (mirror_pattern_parse(bad[i].pattern, &p, err, sizeof(err)))
			fail_msg("pattern %s parsed", bad[i].pattern);
		if (strcmp(err, bad[i].err) != 0)
			fail_msg("pattern %s:\n got  %s\n want %s", bad[i].pattern,
					 err, bad[i].err);
	}
}

static const struct {
	const char *pattern, *w2j, *text;
} w2j[] = {
	{"public.orders", "public.orders", "public.orders"},
	{"public.*", "public.*", "public.*"},
	{"public.order_*", "public.*", "public.order_*"},
	{"*.audit_log", "*.audit_log", "*.audit_log"},
	{"*.\"Audit Log\"", "*.Audit\\ Log", "*.\"Audit Log\""},
	{"s*.t*", "*.*", "s*.t*"},
	{"public.\"User*\"", "public.*", "public.\"User*\""},
	{"\"A b*\".x", "*.x", "\"A b*\".x"},
	{"\"my.s\".\"T\"", "my\\.s.T", "\"my.s\".\"T\""},
};

static void
test_w2j(void **state)
{
	(void) state;
	for (size_t i = 0; i < N(w2j); i++) {
		struct mirror_pattern p;
		struct buf a = BUF_INIT, t = BUF_INIT;
		char err[256];

		assert_true(mirror_pattern_parse(w2j[i].pattern, &p, err, sizeof(err)));
		mirror_pattern_append_w2j(&a, &p);
		mirror_pattern_append(&t, &p);
		assert_string_equal(a.data, w2j[i].w2j);
		assert_string_equal(t.data, w2j[i].text);
		buf_free(&a);
		buf_free(&t);
		mirror_pattern_free(&p);
	}
}

static void
test_create_table(void **state)
{
	static const struct mirror_column cols[] = {
		{"id", "bigint", true},
		{"createdAt", "timestamp(3) without time zone", true},
		{"role", "public.\"Role\"", false},
		{"tags", "text[]", false},
	};
	static const size_t key[] = {0};
	struct mirror_table t = {"User", cols, N(cols), key, 1, true};
	struct mirror_table keyless = {"log", cols + 3, 1, NULL, 0, false};
	struct buf b = BUF_INIT;

	(void) state;
	mirror_append_create_table(&b, "mirror", &t);
	assert_string_equal(b.data,
						"CREATE TABLE \"mirror\".\"User\" (\n"
						"    \"id\" bigint NOT NULL,\n"
						"    \"createdAt\" timestamp(3) without time zone NOT NULL,\n"
						"    \"role\" public.\"Role\",\n"
						"    \"tags\" text[],\n"
						"    PRIMARY KEY (\"id\")\n"
						")");
	buf_reset(&b, 0);
	mirror_append_create_table(&b, "Mirror Schema", &keyless);
	assert_string_equal(b.data, "CREATE TABLE \"Mirror Schema\".\"log\" (\n"
								"    \"tags\" text[]\n"
								")");
	buf_free(&b);
}

static void
test_rule(void **state)
{
	static const struct mirror_column cols[] = {
		{"tenant", "integer", true},
		{"id", "bigint", true},
		{"body", "text", false},
	};
	static const size_t key[] = {1, 0};
	static const struct mirror_meta_col meta[] = {
		{"_lsn", MAP_META_LSN},
		{"_at", MAP_META_COMMIT_TIME},
	};
	struct mirror_spec spec = {"mirror", "deleted_at", meta, N(meta)};
	struct mirror_spec plain = {"m2", NULL, NULL, 0};
	struct mirror_table t = {"Notes", cols, N(cols), key, N(key), true};
	struct mirror_table keyless = {"log", cols + 2, 1, NULL, 0, false};
	struct map_rule *r = mirror_rule_new(&spec, "app", &t);
	struct mirror_column *tc;
	size_t n;

	(void) state;
	assert_string_equal(r->from_schema, "app");
	assert_string_equal(r->from_table, "Notes");
	assert_string_equal(r->to_schema, "mirror");
	assert_string_equal(r->to_table, "Notes");
	assert_int_equal(r->mode, MAP_MODE_UPSERT);
	assert_int_equal(r->nkey, 2);
	assert_string_equal(r->key[0], "id");
	assert_string_equal(r->key[1], "tenant");
	assert_int_equal(r->ncols, 5);
	assert_int_equal(r->cols[2].src, MAP_SRC_COLUMN);
	assert_string_equal(r->cols[2].column, "body");
	assert_string_equal(r->cols[2].target, "body");
	assert_null(r->cols[2].type);
	assert_int_equal(r->cols[3].src, MAP_SRC_META);
	assert_int_equal(r->cols[3].meta, MAP_META_LSN);
	assert_string_equal(r->cols[4].target, "_at");
	assert_int_equal(r->on_delete, MAP_DELETE_SOFT);
	assert_string_equal(r->soft_delete_column, "deleted_at");
	assert_int_equal(r->on_truncate, MAP_TRUNCATE_TRUNCATE);
	assert_null(r->where);
	mirror_rule_free(r);

	r = mirror_rule_new(&plain, "app", &keyless);
	assert_int_equal(r->mode, MAP_MODE_KEYLESS);
	assert_int_equal(r->nkey, 0);
	assert_int_equal(r->ncols, 1);
	assert_int_equal(r->on_delete, MAP_DELETE_DELETE);
	assert_null(r->soft_delete_column);
	mirror_rule_free(r);
	mirror_rule_free(NULL);

	tc = mirror_target_columns(&spec, &t, &n);
	assert_int_equal(n, 6);
	assert_string_equal(tc[2].name, "body");
	assert_string_equal(tc[3].name, "_lsn");
	assert_string_equal(tc[3].type, "pg_lsn");
	assert_string_equal(tc[4].type, "timestamp with time zone");
	assert_string_equal(tc[5].name, "deleted_at");
	assert_false(tc[5].not_null);
	free(tc);
}

static const struct {
	const char *from, *to;
	enum mirror_type_change want;
} changes[] = {
	{"integer", "integer", MIRROR_TYPE_SAME},
	{"smallint", "integer", MIRROR_TYPE_WIDER},
	{"integer", "bigint", MIRROR_TYPE_WIDER},
	{"bigint", "integer", MIRROR_TYPE_OTHER},
	{"integer", "numeric", MIRROR_TYPE_WIDER},
	{"integer", "numeric(10,0)", MIRROR_TYPE_WIDER},
	{"integer", "numeric(12,3)", MIRROR_TYPE_OTHER},
	{"bigint", "numeric(19,0)", MIRROR_TYPE_WIDER},
	{"integer", "real", MIRROR_TYPE_OTHER},
	{"real", "double precision", MIRROR_TYPE_WIDER},
	{"double precision", "real", MIRROR_TYPE_OTHER},
	{"character varying(20)", "text", MIRROR_TYPE_WIDER},
	{"character varying(20)", "character varying(40)", MIRROR_TYPE_WIDER},
	{"character varying(20)", "character varying", MIRROR_TYPE_WIDER},
	{"character varying(40)", "character varying(20)", MIRROR_TYPE_OTHER},
	{"character varying", "text", MIRROR_TYPE_WIDER},
	{"text", "character varying(20)", MIRROR_TYPE_OTHER},
	{"character(5)", "text", MIRROR_TYPE_OTHER},
	{"numeric(10,2)", "numeric(20,4)", MIRROR_TYPE_WIDER},
	{"numeric(10,2)", "numeric(11,3)", MIRROR_TYPE_WIDER},
	{"numeric(10,2)", "numeric(10,3)", MIRROR_TYPE_OTHER},
	{"numeric(10,2)", "numeric(12,1)", MIRROR_TYPE_OTHER},
	{"numeric(10,2)", "numeric", MIRROR_TYPE_WIDER},
	{"numeric", "numeric(30,10)", MIRROR_TYPE_OTHER},
	{"numeric(5)", "numeric(6,1)", MIRROR_TYPE_WIDER},
	{"bit varying(4)", "bit varying(8)", MIRROR_TYPE_WIDER},
	{"timestamp(3) without time zone", "timestamp without time zone",
	 MIRROR_TYPE_WIDER},
	{"timestamp(3) without time zone", "timestamp(6) without time zone",
	 MIRROR_TYPE_WIDER},
	{"timestamp without time zone", "timestamp(3) without time zone",
	 MIRROR_TYPE_OTHER},
	{"timestamp(3) without time zone", "timestamp(3) with time zone",
	 MIRROR_TYPE_OTHER},
	{"time(0) with time zone", "time(2) with time zone", MIRROR_TYPE_WIDER},
	{"interval(2)", "interval", MIRROR_TYPE_WIDER},
	{"integer[]", "bigint[]", MIRROR_TYPE_WIDER},
	{"integer[]", "bigint", MIRROR_TYPE_OTHER},
	{"character varying(5)[]", "text[]", MIRROR_TYPE_WIDER},
	{"public.\"Role\"", "text", MIRROR_TYPE_OTHER},
	{"public.\"R(1)\"", "public.\"R(2)\"", MIRROR_TYPE_OTHER},
	{"numeric(1,2,3)", "numeric", MIRROR_TYPE_OTHER},
};

static void
test_type_change(void **state)
{
	(void) state;
	for (size_t i = 0; i < N(changes); i++)
		if (mirror_type_change(changes[i].from, changes[i].to) !=
			changes[i].want)
			fail_msg("%s -> %s: want %d, got %d", changes[i].from,
					 changes[i].to, changes[i].want,
					 mirror_type_change(changes[i].from, changes[i].to));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_w2j),
		cmocka_unit_test(test_create_table),
		cmocka_unit_test(test_type_change),
		cmocka_unit_test(test_rule),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
