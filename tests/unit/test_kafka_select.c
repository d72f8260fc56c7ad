/* test_kafka_select.c: unit tests of Debezium's column lists and message key columns. */
#include "walpipe/kafka_select.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void
test_nothing_set(void **state)
{
	bool err = true;
	char why[200];

	(void) state;
	assert_null(kafka_select_new(NULL, "", NULL, &err, why, sizeof(why)));
	assert_false(err);
}

static void
test_errors(void **state)
{
	static const struct {
		const char *inc, *exc, *keys, *why;
	} bad[] = {
		{"a.b.c", "a.b.d", NULL,
		 "column_include_list and column_exclude_list cannot both be set "
		 "(Debezium's rule: one or the other)"},
		{"public.t.(x", NULL, NULL, "invalid regular expression \"public.t.(x\" in column_include_list: "},
		{NULL, "a,,b", NULL, "empty regular expression in column_exclude_list"},
		{NULL, NULL, "public.t", "message_key_columns entry \"public.t\" is not schema.table:column[,column...]"},
		{NULL, NULL, "public.t:a,", "message_key_columns entry \"public.t:a,\" has an empty column name"},
		{NULL, NULL, "public.t:a;:b", "message_key_columns entry \":b\" is not schema.table:column[,column...]"},
	};

	(void) state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bool err = false;
		char why[300] = "";

		assert_null(kafka_select_new(bad[i].inc, bad[i].exc, bad[i].keys,
									 &err, why, sizeof(why)));
		assert_true(err);
		if (strncmp(why, bad[i].why, strlen(bad[i].why)) != 0)
			fail_msg("got \"%s\", want \"%s\"", why, bad[i].why);
	}
}

static void
test_columns(void **state)
{
	bool err;
	char why[200];
	struct kafka_select *inc =
		kafka_select_new("public\\.users\\.(id|name), shop.*\\.secret_.*", NULL,
						 NULL, &err, why, sizeof(why));
	struct kafka_select *exc = kafka_select_new(
		NULL, "public\\.users\\.email", NULL, &err, why, sizeof(why));

	(void) state;
	assert_non_null(inc);
	assert_non_null(exc);
	/* Twice each: the second answer is the remembered one. */
	for (int round = 0; round < 2; round++) {
		assert_true(kafka_select_column(inc, "public", "users", "id"));
		assert_true(kafka_select_column(inc, "public", "users", "name"));
		assert_false(kafka_select_column(inc, "public", "users", "email"));
		/* A whole name: no prefix or suffix match. */
		assert_false(kafka_select_column(inc, "public", "users", "ids"));
		assert_false(kafka_select_column(inc, "xpublic", "users", "id"));
		assert_true(kafka_select_column(inc, "shop_x", "t", "secret_a"));
		assert_false(kafka_select_column(exc, "public", "users", "email"));
		assert_true(kafka_select_column(exc, "public", "users", "name"));
		assert_true(kafka_select_column(exc, "public", "orders", "email"));
	}
	kafka_select_free(inc);
	kafka_select_free(exc);
}

static void
test_apply(void **state)
{
	bool err;
	char why[200];
	struct kafka_select *s = kafka_select_new(
		NULL, "public\\.users\\.email", "public\\.orders:id;public\\.us.*:name,id",
		&err, why, sizeof(why));
	struct kafka_select_scratch sc;
	struct w2j_column cols[] = {{.name = "id"}, {.name = "name"}, {.name = "email"}};
	struct w2j_column pk[] = {{.name = "id", .name_len = 2}};
	struct kafka_column tcols[] = {{.name = "id"}, {.name = "name"}, {.name = "email"}};
	struct kafka_table tab = {tcols, 3}, tout;
	struct w2j_change c, out;

	(void) state;
	assert_non_null(s);
	memset(&sc, 0, sizeof(sc));
	memset(&c, 0, sizeof(c));
	c.schema = "public";
	c.table = "users";
	c.columns = cols;
	c.ncolumns = 3;
	c.identity = cols;
	c.nidentity = 3;
	c.pk = pk;
	c.npk = 1;
	kafka_select_apply(s, &c, &tab, &out, &tout, &sc);
	assert_int_equal(out.ncolumns, 2);
	assert_string_equal(out.columns[1].name, "name");
	assert_int_equal(out.nidentity, 2);
	assert_int_equal(tout.ncols, 2);
	assert_string_equal(tout.cols[1].name, "name");
	assert_int_equal(out.npk, 2);
	assert_string_equal(out.pk[0].name, "name");
	assert_int_equal(out.pk[0].name_len, 4);
	assert_string_equal(out.pk[1].name, "id");
	/* Another table: its own primary key, every column. */
	c.table = "items";
	kafka_select_apply(s, &c, NULL, &out, NULL, &sc);
	assert_int_equal(out.ncolumns, 3);
	assert_ptr_equal(out.pk, pk);
	kafka_select_scratch_free(&sc);
	kafka_select_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_set),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_columns),
		cmocka_unit_test(test_apply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
