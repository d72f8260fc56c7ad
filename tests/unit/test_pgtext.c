/* test_pgtext.c: unit tests of the interval and hstore text parsers behind Debezium's conversions. */
#include "walpipe/pgtext.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/*
 * PostgreSQL's own output (IntervalStyle postgres) and what Debezium's
 * PostgreSQL connector sends for it: MicroDuration as worked out with
 * MicroDuration.durationMicros's double arithmetic (365.25 / 12 days a
 * month) in Python, whose floats are Java's doubles; Interval as
 * Interval.toIsoString writes PGInterval's fields.
 */
static const struct {
	const char *text;
	int64_t micros;
	const char *iso;
} intervals[] = {
	{"1 year 2 mons 3 days 04:05:06.78", 37091106780000LL,
	 "\"P1Y2M3DT4H5M6.78S\""},
	{"-1 years -2 mons +3 days -04:05:06.78", -36572706780000LL,
	 "\"P-1Y-2M3DT-4H-5M-6.78S\""},
	{"00:00:00", 0, "\"P0Y0M0DT0H0M0S\""},
	{"-00:00:00.5", -500000, "\"P0Y0M0DT0H0M-0.5S\""},
	{"1 day", 86400000000LL, "\"P0Y0M1DT0H0M0S\""},
	{"1 mon", 2629800000000LL, "\"P0Y1M0DT0H0M0S\""},
	{"100:00:00.000001", 360000000001LL, "\"P0Y0M0DT100H0M0.000001S\""},
	{"178000000 years", INT64_MAX, "\"P178000000Y0M0DT0H0M0S\""},
	{"-178000000 years", INT64_MIN, "\"P-178000000Y0M0DT0H0M0S\""},
};

/* Not IntervalStyle postgres, or not an interval: left to the caller. */
static const char *const bad_intervals[] = {
	"", " ", "1 fortnight", "P1Y2M", "1 year 1 year", "1 day 1 year",
	"04:05", "04:5:06", "04:05:06 1 day", "04:05:06.1234567", "1year",
	"@ 1 year", "1 days ago", "-", "00:60:00", "1 day 04:05:06 04:05:06",
	"9999999999999999999 days",
};

static void
test_intervals(void **state)
{
	(void) state;
	for (size_t i = 0; i < sizeof(intervals) / sizeof(intervals[0]); i++) {
		struct pgtext_interval iv;
		struct buf b = BUF_INIT;

		assert_true(pgtext_interval_parse(intervals[i].text,
										  strlen(intervals[i].text), &iv));
		assert_int_equal(pgtext_interval_micros(&iv), intervals[i].micros);
		pgtext_interval_iso(&b, &iv);
		assert_string_equal(b.data, intervals[i].iso);
		buf_free(&b);
	}
	for (size_t i = 0; i < sizeof(bad_intervals) / sizeof(bad_intervals[0]);
		 i++) {
		struct pgtext_interval iv;

		if (pgtext_interval_parse(bad_intervals[i], strlen(bad_intervals[i]),
								  &iv))
			fail_msg("accepted \"%s\"", bad_intervals[i]);
	}
}

/* Only len bytes are read: a prefix of a longer text is its own value. */
static void
test_interval_length(void **state)
{
	struct pgtext_interval iv;

	(void) state;
	assert_true(pgtext_interval_parse("1 day 04:05:06", 5, &iv));
	assert_int_equal(iv.days, 1);
	assert_int_equal(iv.hours, 0);
}

static const struct {
	const char *text, *json;
} hstores[] = {
	{"\"a\"=>\"1\", \"b\"=>NULL", "{\"a\":\"1\",\"b\":null}"},
	{"", "{}"},
	{"\"k\\\"q\"=>\"v\\\\w\"", "{\"k\\\"q\":\"v\\\\w\"}"},
	{"\"NULL\"=>\"NULL\"", "{\"NULL\":\"NULL\"}"},
	{"\"\"=>\"\"", "{\"\":\"\"}"},
	{"a=>b,  c => null", "{\"a\":\"b\",\"c\":null}"},
	{"\"ü\"=>\"\\n\"", "{\"ü\":\"n\"}"},
};

static const char *const bad_hstores[] = {
	"\"a\"", "\"a\"=>", "\"a\"=>\"1\",", "\"a\"=\"1\"", "\"a\"=>\"1\" \"b\"=>\"2\"",
	"\"a", "=>\"1\"", "\"a\"=>\"1\\",
};

static void
test_hstores(void **state)
{
	(void) state;
	for (size_t i = 0; i < sizeof(hstores) / sizeof(hstores[0]); i++) {
		struct buf b = BUF_INIT;

		assert_true(pgtext_hstore_json(&b, hstores[i].text,
									   strlen(hstores[i].text)));
		assert_string_equal(b.data, hstores[i].json);
		buf_free(&b);
	}
	for (size_t i = 0; i < sizeof(bad_hstores) / sizeof(bad_hstores[0]);
		 i++) {
		struct buf b = BUF_INIT;

		buf_append_str(&b, "x");
		if (pgtext_hstore_json(&b, bad_hstores[i], strlen(bad_hstores[i])))
			fail_msg("accepted \"%s\"", bad_hstores[i]);
		assert_string_equal(b.data, "x"); /* out as it was */
		buf_free(&b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intervals),
		cmocka_unit_test(test_interval_length),
		cmocka_unit_test(test_hstores),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
