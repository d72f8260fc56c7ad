/* test_ident.c: the name notation, its SQL text form and wal2json's add-tables escaping, table-driven. */
#include "walpipe/ident.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Input, parts allowed, then the exact parts and folded, or the error. */
static const struct {
	const char *in;
	int min, max;
	const char *a, *b; /* NULL a: an error */
	bool folded;
	const char *err;
} parse_cases[] = {
	{"users", 1, 1, "users", NULL, false, NULL},
	{"Users", 1, 1, "users", NULL, true, NULL},
	{"\"User\"", 1, 1, "User", NULL, false, NULL},
	{"public.users", 2, 2, "public", "users", false, NULL},
	{"public.\"User\"", 2, 2, "public", "User", false, NULL},
	{"\"Sales Dept\".\"order.items\"", 2, 2, "Sales Dept", "order.items",
	 false, NULL},
	{"\"a\"\"b\".\"\"\"\"", 2, 2, "a\"b", "\"", false, NULL},
	{"s.caf\xc3\xa9", 2, 2, "s", "caf\xc3\xa9", false, NULL},
	{"S.CAF\xc3\x89", 2, 2, "s", "caf\xc3\x89", true, NULL}, /* É stays */
	{"_x$1.t2", 2, 2, "_x$1", "t2", false, NULL},
	{"\"1st\".\"$x\"", 2, 2, "1st", "$x", false, NULL},
	{"\"with space\"", 1, 1, "with space", NULL, false, NULL},
	/* 63 bytes is fine, 64 is not */
	{"a23456789012345678901234567890123456789012345678901234567890123", 1,
	 1, "a23456789012345678901234567890123456789012345678901234567890123",
	 NULL, false, NULL},
	{"a234567890123456789012345678901234567890123456789012345678901234", 1,
	 1, NULL, NULL, false,
	 "name \"a2345678901234567890...\" is 64 bytes long, longer than "
	 "PostgreSQL's 63"},
	{"", 1, 1, NULL, NULL, false, "empty name"},
	{"users", 2, 2, NULL, NULL, false, "no schema"},
	{"a.b.c", 2, 2, NULL, NULL, false, "too many dots"},
	{"a.b", 1, 1, NULL, NULL, false, "a dot outside quotes"},
	{"a..b", 2, 2, NULL, NULL, false, "empty name part"},
	{".b", 2, 2, NULL, NULL, false, "empty name part"},
	{"a.", 2, 2, NULL, NULL, false, "empty name part after the dot"},
	{"\"User", 1, 1, NULL, NULL, false,
	 "unterminated quoted name: a quoted name ends with \""},
	{"public.\"User", 2, 2, NULL, NULL, false,
	 "unterminated quoted name: a quoted name ends with \""},
	{"\"\"", 1, 1, NULL, NULL, false, "empty quoted name \"\""},
	{"\"a\"b", 1, 1, NULL, NULL, false,
	 "unexpected \"b\" after a quoted name: a dot or the end must follow "
	 "it"},
	{"1st", 1, 1, NULL, NULL, false,
	 "an unquoted name cannot start with \"1\""},
	{"$x", 1, 1, NULL, NULL, false,
	 "an unquoted name cannot start with \"$\""},
	{"my-table", 1, 1, NULL, NULL, false,
	 "\"-\" is not allowed in an unquoted name"},
	{"Bad Col", 1, 1, NULL, NULL, false,
	 "\" \" is not allowed in an unquoted name"},
	{"a\tb", 1, 1, NULL, NULL, false,
	 "\"\\x09\" is not allowed in an unquoted name"},
};

static void
test_parse(void **state)
{
	(void) state;
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]);
		 i++) {
		struct ident_name n;
		char err[256] = "";
		bool ok = ident_parse(parse_cases[i].in, parse_cases[i].min,
							  parse_cases[i].max, &n, err, sizeof(err));

		print_message("case %zu: %s\n", i, parse_cases[i].in);
		if (parse_cases[i].a == NULL) {
			assert_false(ok);
			assert_string_equal(err, parse_cases[i].err);
			assert_null(n.part[0]);
			continue;
		}
		assert_true(ok);
		assert_string_equal(n.part[0], parse_cases[i].a);
		if (parse_cases[i].b)
			assert_string_equal(n.part[1], parse_cases[i].b);
		else
			assert_null(n.part[1]);
		assert_int_equal(n.folded, parse_cases[i].folded);
		ident_name_free(&n);
	}
}

/* Path in, column and keys out ("|"-joined), or the error. */
static const struct {
	const char *in;
	const char *column, *keys;
	bool folded;
	const char *err;
} path_cases[] = {
	{"amount", "amount", "", false, NULL},
	{"payload.user_id", "payload", "user_id", false, NULL},
	{"payload.userId", "payload", "userId", false, NULL},
	{"Payload.userId", "payload", "userId", true, NULL},
	{"\"Data\".\"a.b\".0", "Data", "a.b|0", false, NULL},
	{"\"createdAt\"", "createdAt", "", false, NULL},
	{"p.\"q\"\"r\"", "p", "q\"r", false, NULL},
	{"p..q", NULL, NULL, false, "empty JSON key"},
	{"p.", NULL, NULL, false, "empty JSON key"},
	{"p.\"q", NULL, NULL, false,
	 "unterminated quoted JSON key: a quoted key ends with \""},
	{"Bad Col", NULL, NULL, false,
	 "\" \" is not allowed in an unquoted name"},
	{"", NULL, NULL, false, "empty name"},
};

static void
test_path(void **state)
{
	(void) state;
	for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		char *col, **keys, err[256] = "", joined[256] = "";
		size_t nkeys;
		bool folded;
		bool ok = ident_parse_path(path_cases[i].in, &col, &keys, &nkeys,
								   &folded, err, sizeof(err));

		print_message("case %zu: %s\n", i, path_cases[i].in);
		if (path_cases[i].column == NULL) {
			assert_false(ok);
			assert_string_equal(err, path_cases[i].err);
			assert_null(col);
			continue;
		}
		assert_true(ok);
		assert_string_equal(col, path_cases[i].column);
		for (size_t k = 0; k < nkeys; k++) {
			if (k)
				strcat(joined, "|");
			strcat(joined, keys[k]);
			free(keys[k]);
		}
		assert_string_equal(joined, path_cases[i].keys);
		assert_int_equal(folded, path_cases[i].folded);
		free(keys);
		free(col);
	}
}

/* Exact schema and table, the SQL text form and the add-tables entry. */
static const struct {
	const char *schema, *table, *text, *w2j;
} form_cases[] = {
	{"public", "users", "public.users", "public.users"},
	{"public", "order", "public.order", "public.order"}, /* keyword: bare */
	{"public", "User", "public.\"User\"", "public.User"},
	{"Sales Dept", "order.items", "\"Sales Dept\".\"order.items\"",
	 "Sales\\ Dept.order\\.items"},
	{"a\"b", "c,d", "\"a\"\"b\".\"c,d\"", "a\\\"b.c\\,d"},
	{"*", "*", "\"*\".\"*\"", "\\*.\\*"},
	{"back\\slash", "t1", "\"back\\slash\".t1", "back\\\\slash.t1"},
	{"s", "caf\xc3\xa9", "s.\"caf\xc3\xa9\"", "s.caf\xc3\xa9"},
	{"s", "1x", "s.\"1x\"", "s.1x"},
	{"s", "it's", "s.\"it's\"", "s.it\\'s"},
	{"s", "$x", "s.\"$x\"", "s.$x"},
};

/*
 * wal2json 2.5's reading of an add-tables list (string_to_SelectTable and
 * parse_table_identifier in wal2json.c), transcribed here so the escaping
 * is tested against what the plugin does: split at unescaped commas and
 * white space, then at the first unescaped dot, dropping each backslash.
 */
static void
w2j_read(const char *in, char *schema, char *table)
{
	const char *p;
	char *o = schema;

	/* The list: one entry, so no unescaped comma or white space in it. */
	for (p = in; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			continue;
		}
		assert_true(*p != ',' && *p != ' ' && *p != '\t' && *p != '\n');
	}
	/* The entry: schema up to the first unescaped dot, then the table. */
	for (p = in; *p && *p != '.'; p++) {
		if (*p == '\\')
			p++;
		*o++ = *p;
	}
	*o = '\0';
	assert_int_equal(*p, '.');
	o = table;
	for (p++; *p; p++) {
		if (*p == '\\')
			p++;
		*o++ = *p;
	}
	*o = '\0';
}

static void
test_forms(void **state)
{
	(void) state;
	for (size_t i = 0; i < sizeof(form_cases) / sizeof(form_cases[0]); i++) {
		const char *s = form_cases[i].schema, *t = form_cases[i].table;
		char *text = ident_qualified(s, t);
		struct buf w = BUF_INIT;
		struct ident_name n;
		char err[256], rs[200], rt[200];

		print_message("case %zu: %s.%s\n", i, s, t);
		assert_string_equal(text, form_cases[i].text);
		/* The text form is the notation: it reads back exactly. */
		assert_true(ident_parse(text, 2, 2, &n, err, sizeof(err)));
		assert_string_equal(n.part[0], s);
		assert_string_equal(n.part[1], t);
		ident_name_free(&n);
		ident_append_w2j(&w, s, t);
		assert_string_equal(w.data, form_cases[i].w2j);
		w2j_read(w.data, rs, rt);
		assert_string_equal(rs, s);
		assert_string_equal(rt, t);
		/* Neither part reads as wal2json's "*" wildcard. */
		assert_false(w.data[0] == '*' && w.data[1] == '.');
		buf_free(&w);
		free(text);
	}
}

static const struct {
	const char *in, *hint;
} hint_cases[] = {
	{"createdAt", "'\"createdAt\"'"},
	{"public.User", "public.\"User\""},
	{"Sales.\"order items\"", "'\"Sales\".\"order items\"'"},
	{"payload.userId", "payload.\"userId\""},
	{"it's", "it's"},
};

static void
test_hint(void **state)
{
	(void) state;
	for (size_t i = 0; i < sizeof(hint_cases) / sizeof(hint_cases[0]); i++) {
		struct buf b = BUF_INIT;

		ident_fold_hint(&b, hint_cases[i].in);
		assert_string_equal(b.data, hint_cases[i].hint);
		buf_free(&b);
	}
}

/* Values of synchronous_standby_names (PostgreSQL 15 accepts each but
 * the unterminated quote), and whether
 * each names application name "walpipe" (or "Walpipe 2"). */
static const struct {
	const char *value, *app;
	bool match;
} syncnames_cases[] = {
	{"", "walpipe", false},
	{"walpipe", "walpipe", true},
	{"WALPIPE", "walpipe", true},
	{"walpipe", "WalPipe", true},
	{"walpipe_backup", "walpipe", false},
	{"standby1, walpipe", "walpipe", true},
	{"standby1,standby2", "walpipe", false},
	{"*", "walpipe", true},
	{"\"*\"", "walpipe", true},
	{"FIRST 1 (standby1, walpipe)", "walpipe", true},
	{"first 2 (standby1, standby2)", "walpipe", false},
	{"ANY 1 (nobody, \"walpipe\")", "walpipe", true},
	{"2 (a, b, walpipe)", "walpipe", true},
	{"2 (a, b)", "2", false},
	{"1, 2", "2", true},
	{"3(a)", "3", false},
	/* Keywords are never names; quoted they are. */
	{"FIRST 1 (a)", "first", false},
	{"\"first\", a", "first", true},
	{"ANY 1 (a)", "any", false},
	{"\"Walpipe 2\"", "walpipe 2", true},
	{"\"wal\"\"pipe\"", "wal\"pipe", true},
	{"\"walpipe", "walpipe", true},
	{"wal$pipe, x", "wal$pipe", true},
	{"wal$pipe, x", "wal", false},
	{"walpipe", "", false},
};

static void
test_syncnames(void **state)
{
	(void) state;
	for (size_t i = 0;
		 i < sizeof(syncnames_cases) / sizeof(syncnames_cases[0]); i++) {
		bool got = ident_syncnames_match(syncnames_cases[i].value,
										 syncnames_cases[i].app);

		if (got != syncnames_cases[i].match)
			fail_msg("\"%s\" names \"%s\": got %d", syncnames_cases[i].value,
					 syncnames_cases[i].app, got);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_hint),
		cmocka_unit_test(test_syncnames),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
