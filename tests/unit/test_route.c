/* test_route.c: unit tests of the route cache and of add-tables read as wal2json reads it. */
#include "walpipe/route.h"

#include "walpipe/buf.h"
#include "walpipe/ident.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static const struct {
	const char *filter, *schema, *table;
	bool listed;
} listed[] = {
	{NULL, "any", "thing", true},
	{"", "any", "thing", true},
	{"public.t", "public", "t", true},
	{"public.t", "public", "t2", false},
	{"public.t", "other", "t", false},
	{" public.a , s2.* ", "s2", "whatever", true},
	{" public.a , s2.* ", "public", "a", true},
	{" public.a , s2.* ", "public", "b", false},
	{"*.leaf", "x", "leaf", true},
	{"*.leaf", "x", "leaf2", false},
	/* Escapes: a dot, a comma, a space and a star in names. */
	{"my\\.s.t\\,1", "my.s", "t,1", true},
	{"my\\.s.t\\,1", "my", "s.t", false},
	{"a\\ b.c", "a b", "c", true},
	{"\\*.t", "*", "t", true},
	{"\\*.t", "x", "t", false},
	{"s.\\*", "s", "*", true},
	{"s.\\*", "s", "t", false},
	/* A name without a schema is not a table selector. */
	{"lonely", "public", "lonely", false},
};

static void
test_listed(void **state)
{
	(void) state;
	for (size_t i = 0; i < sizeof(listed) / sizeof(listed[0]); i++) {
		struct route *r = route_new(listed[i].filter);

		if (route_listed(r, listed[i].schema, listed[i].table) !=
			listed[i].listed)
			fail_msg("filter \"%s\": %s.%s should%s be listed",
					 listed[i].filter ? listed[i].filter : "(null)",
					 listed[i].schema, listed[i].table,
					 listed[i].listed ? "" : " not");
		route_free(r);
	}
}

static void
test_cache(void **state)
{
	struct route *r = route_new("public.root");
	struct route_entry *e;
	char s[32], t[32];

	(void) state;
	assert_null(route_find(r, "public", "p1"));
	e = route_add(r, "public", "p1", ROUTE_MEMBER, "public", "root");
	assert_non_null(e);
	e->changes = 3;
	e = route_find(r, "public", "p1");
	assert_non_null(e);
	assert_int_equal(e->kind, ROUTE_MEMBER);
	assert_string_equal(e->root_table, "root");
	assert_int_equal(e->changes, 3);
	/* schema "a" table "bc" is not schema "ab" table "c". */
	route_add(r, "a", "bc", ROUTE_DROP, NULL, NULL);
	assert_null(route_find(r, "ab", "c"));
	/* Replacing keeps the entry and its count. */
	e = route_add(r, "public", "p1", ROUTE_DROP, NULL, NULL);
	assert_int_equal(e->kind, ROUTE_DROP);
	assert_null(e->root_schema);
	assert_int_equal(e->changes, 3);
	/* Growth keeps every entry findable. */
	for (int i = 0; i < 1000; i++) {
		snprintf(s, sizeof(s), "s%d", i % 7);
		snprintf(t, sizeof(t), "t%d", i);
		route_add(r, s, t, i % 2 ? ROUTE_GONE : ROUTE_KEEP, NULL, NULL);
	}
	assert_int_equal(route_count(r), 1002);
	for (int i = 0; i < 1000; i++) {
		snprintf(s, sizeof(s), "s%d", i % 7);
		snprintf(t, sizeof(t), "t%d", i);
		e = route_find(r, s, t);
		assert_non_null(e);
		assert_int_equal(e->kind, i % 2 ? ROUTE_GONE : ROUTE_KEEP);
	}
	assert_non_null(route_find(r, "public", "p1"));
	route_free(r);
	route_free(NULL);
}

static void
test_roots_and_listed(void **state)
{
	struct route *r = route_new("public.a, s2.*, *.x, my\\.s.t");
	const char *s, *t;

	(void) state;
	assert_true(route_listed_table(r, 0, &s, &t));
	assert_string_equal(s, "public");
	assert_string_equal(t, "a");
	assert_true(route_listed_table(r, 1, &s, &t));
	assert_string_equal(s, "my.s");
	assert_string_equal(t, "t");
	assert_false(route_listed_table(r, 2, &s, &t));
	assert_null(route_root(r, 0));
	route_add(r, "public", "r1", ROUTE_ROOT, NULL, NULL);
	route_add(r, "public", "plain", ROUTE_KEEP, NULL, NULL);
	route_add(r, "public", "r2", ROUTE_ROOT, NULL, NULL);
	route_add(r, "public", "r1", ROUTE_ROOT, NULL, NULL); /* again: once */
	assert_string_equal(route_root(r, 0)->table, "r1");
	assert_string_equal(route_root(r, 1)->table, "r2");
	assert_null(route_root(r, 2));
	route_add(r, "public", "r1", ROUTE_DROP, NULL, NULL);
	assert_string_equal(route_root(r, 0)->table, "r2");
	assert_null(route_root(r, 1));
	route_free(r);
}

/* What ident writes for add-tables, route reads back as wal2json does. */
static void
test_ident_round_trip(void **state)
{
	static const char *const names[] = {
		"plain", "My Schema", "a.b", "c,d",
		"*", "back\\slash", "x\"y", "\xc3\xa9t\xc3\xa9",
	};
	size_t n = sizeof(names) / sizeof(names[0]);

	(void) state;
	for (size_t i = 0; i < n; i++) {
		struct buf b = BUF_INIT;
		struct route *r;

		ident_append_w2j(&b, names[i], names[(i + 1) % n]);
		buf_append_str(&b, ", ");
		ident_append_w2j_all(&b, names[(i + 2) % n]);
		r = route_new(b.data);
		assert_true(route_listed(r, names[i], names[(i + 1) % n]));
		assert_false(route_listed(r, names[i], names[(i + 3) % n]));
		assert_true(route_listed(r, names[(i + 2) % n], "anything"));
		assert_false(route_listed(r, "other", "anything"));
		route_free(r);
		buf_free(&b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listed),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_roots_and_listed),
		cmocka_unit_test(test_ident_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
