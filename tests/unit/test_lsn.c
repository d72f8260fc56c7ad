/* test_lsn.c: unit tests of LSN parsing and formatting. */
#include "walpipe/lsn.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static const struct {
	const char *text;
	lsn_t value;
	const char *canonical; /* how lsn_format prints it back */
} good[] = {
	{"0/0", 0, "0/0"},
	{"0/1", 1, "0/1"},
	{"16/B374D848", UINT64_C(0x16B374D848), "16/B374D848"},
	{"16/b374d848", UINT64_C(0x16B374D848), "16/B374D848"},
	{"1/0", UINT64_C(0x100000000), "1/0"},
	{"FFFFFFFF/FFFFFFFF", UINT64_MAX, "FFFFFFFF/FFFFFFFF"},
	{"00000000/00000010", 0x10, "0/10"},
	{"0/FFFFFFFF", UINT64_C(0xFFFFFFFF), "0/FFFFFFFF"},
	{"aBcDeF01/23456789", UINT64_C(0xABCDEF0123456789),
	 "ABCDEF01/23456789"},
};

static const char *const bad[] = {
	"",
	"/",
	"0/",
	"/0",
	"0",
	"12",
	"0//0",
	"0/0/0",
	" 0/0",
	"0/0 ",
	"0 /0",
	"+1/0",
	"-1/0",
	"0x1/0",
	"1/0x0",
	"G/0",
	"0/G",
	"100000000/0", /* nine digits */
	"0/100000000",
	"1.5/0",
	"0/0\n",
};

static void
test_parse_good(void **state)
{
	(void) state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		lsn_t v = 42;
		char err[128] = "";

		assert_true(lsn_parse(good[i].text, &v, err, sizeof(err)));
		assert_int_equal(v, good[i].value);
		assert_string_equal(err, "");
	}
}

static void
test_format(void **state)
{
	(void) state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char buf[LSN_STRLEN];

		assert_string_equal(lsn_format(good[i].value, buf),
							good[i].canonical);
	}
}

static void
test_roundtrip(void **state)
{
	/* Every formatted value parses back to itself, across bit patterns. */
	lsn_t v = 1;

	(void) state;
	for (int i = 0; i < 64; i++, v = v * 3 + 0x9E3779B97F4A7C15u) {
		char buf[LSN_STRLEN];
		lsn_t back = 0;

		assert_true(lsn_parse(lsn_format(v, buf), &back, NULL, 0));
		assert_int_equal(back, v);
		assert_true(strlen(buf) < LSN_STRLEN);
	}
}

static void
test_parse_bad(void **state)
{
	(void) state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lsn_t v = 42;
		char err[160] = "";
		char want[160];

		if (lsn_parse(bad[i], &v, err, sizeof(err)))
			fail_msg("accepted bad LSN \"%s\"", bad[i]);
		assert_int_equal(v, 42); /* untouched */
		snprintf(want, sizeof(want),
				 "invalid LSN \"%s\": expected the form X/Y with hexadecimal X "
				 "and Y of at most 8 digits each",
				 bad[i]);
		assert_string_equal(err, want);
	}
}

static void
test_parse_null(void **state)
{
	lsn_t v = 7;
	char err[64];

	(void) state;
	assert_false(lsn_parse(NULL, &v, err, sizeof(err)));
	assert_string_equal(err, "invalid LSN: no value");
	assert_int_equal(v, 7);
}

static void
test_error_truncated(void **state)
{
	/* A tiny error buffer is filled safely, never overrun. */
	char err[8];
	lsn_t v;

	(void) state;
	memset(err, 'x', sizeof(err));
	assert_false(lsn_parse("nope", &v, err, sizeof(err)));
	assert_int_equal(err[sizeof(err) - 1], '\0');
	assert_string_equal(err, "invalid");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_null),
		cmocka_unit_test(test_error_truncated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
