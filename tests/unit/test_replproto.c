/* test_replproto.c: unit tests of the replication wire format and buffers. */
#include "walpipe/buf.h"
#include "walpipe/replproto.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static void
test_xlogdata(void **state)
{
	/* 'w', dataStart 0/16B3748, walEnd 1/2, sendTime 0x0102..08, payload */
	const char msg[] = "w"
					   "\x00\x00\x00\x00\x01\x6B\x37\x48"
					   "\x00\x00\x00\x01\x00\x00\x00\x02"
					   "\x01\x02\x03\x04\x05\x06\x07\x08"
					   "{\"action\":\"B\"}";
	struct replproto_msg m;
	char err[128];

	(void) state;
	assert_true(replproto_parse(msg, sizeof(msg) - 1, &m, err, sizeof(err)));
	assert_int_equal(m.kind, REPLPROTO_XLOGDATA);
	assert_int_equal(m.data_start, 0x16B3748);
	assert_int_equal(m.wal_end, UINT64_C(0x100000002));
	assert_int_equal(m.send_time, INT64_C(0x0102030405060708));
	assert_int_equal(m.payload_len, 14);
	assert_memory_equal(m.payload, "{\"action\":\"B\"}", 14);

	/* An empty payload is legal; a short header is not. */
	assert_true(replproto_parse(msg, 25, &m, err, sizeof(err)));
	assert_int_equal(m.payload_len, 0);
	assert_false(replproto_parse(msg, 24, &m, err, sizeof(err)));
	assert_string_equal(err, "streaming header too small: 24 bytes, expected "
							 "at least 25");
}

static void
test_keepalive(void **state)
{
	const char msg[] = "k"
					   "\x00\x00\x00\x02\x00\x00\x00\x10"
					   "\x00\x00\x00\x00\x00\x00\x00\x2A"
					   "\x01";
	struct replproto_msg m;
	char err[128];

	(void) state;
	assert_true(replproto_parse(msg, 18, &m, err, sizeof(err)));
	assert_int_equal(m.kind, REPLPROTO_KEEPALIVE);
	assert_int_equal(m.wal_end, UINT64_C(0x200000010));
	assert_int_equal(m.send_time, 42);
	assert_true(m.reply_requested);
	assert_null(m.payload);

	assert_false(replproto_parse(msg, 17, &m, err, sizeof(err)));
	assert_string_equal(err, "keepalive message has 17 bytes, expected 18");
	assert_false(replproto_parse("k\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 19,
								 &m, err, sizeof(err)));
	assert_string_equal(err, "keepalive message has 19 bytes, expected 18");
}

static void
test_bad_kind(void **state)
{
	struct replproto_msg m;
	char err[128];

	(void) state;
	assert_false(replproto_parse("x123", 4, &m, err, sizeof(err)));
	assert_string_equal(err, "unrecognized streaming header: \"x\" (0x78)");
	assert_false(replproto_parse("\x01", 1, &m, err, sizeof(err)));
	assert_string_equal(err, "unrecognized streaming header: \"?\" (0x01)");
	assert_false(replproto_parse("", 0, &m, err, sizeof(err)));
	assert_string_equal(err, "empty replication message");
}

static void
test_status(void **state)
{
	char out[REPLPROTO_STATUS_LEN];
	/* 2000-01-01 00:00:01 UTC in µs since the Unix epoch. */
	int64_t now = REPLPROTO_EPOCH_OFFSET_US + 1000000;
	const char want[REPLPROTO_STATUS_LEN] =
		"r"
		"\x00\x00\x00\x01\x00\x00\x00\x03"	/* write 1/3 */
		"\x00\x00\x00\x01\x00\x00\x00\x02"	/* flush 1/2 */
		"\x00\x00\x00\x00\x00\x00\x00\x01"	/* apply 0/1 */
		"\x00\x00\x00\x00\x00\x0F\x42\x40"	/* 1000000 µs */
		"\x00";

	(void) state;
	replproto_build_status(out, UINT64_C(0x100000003), UINT64_C(0x100000002),
						   1, now);
	assert_memory_equal(out, want, REPLPROTO_STATUS_LEN);
}

static void
test_buf_json_string(void **state)
{
	struct buf b = BUF_INIT;

	(void) state;
	buf_append_json_string(&b, "a\"b\\c\n\t\x01\x1f\xc3\xa9", 11);
	assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\t\\u0001\\u001f\xc3\xa9\"");
	buf_reset(&b, 1024);
	buf_append_json_string(&b, "x\0y", 3);
	assert_string_equal(b.data, "\"x\\u0000y\"");
	buf_free(&b);
}

static void
test_buf_growth_and_reset(void **state)
{
	struct buf b = BUF_INIT;

	(void) state;
	for (int i = 0; i < 10000; i++)
		buf_appendf(&b, "%05d", i);
	assert_int_equal(b.len, 50000);
	assert_memory_equal(b.data + 49995, "09999", 5);
	assert_int_equal(b.data[b.len], '\0');
	/* Grown past the cap: reset releases the memory. */
	buf_reset(&b, 4096);
	assert_null(b.data);
	assert_int_equal(b.cap, 0);
	buf_append_str(&b, "small");
	buf_reset(&b, 4096);
	assert_non_null(b.data); /* kept: under the cap */
	assert_int_equal(b.len, 0);
	buf_free(&b);
	buf_free(NULL);
}

/* A history file of timeline 3, as TIMELINE_HISTORY 3 sends it. */
static void
test_timeline_end(void **state)
{
	static const char h[] = "1\t0/3000158\tno recovery target specified\n"
							"\n"
							"# a comment\n"
							"2\t0/5A0000A8\tbefore 2026-11-30 10:00:00+00\n";
	lsn_t end = 0;

	(void) state;
	assert_true(replproto_timeline_end(h, strlen(h), 1, &end));
	assert_int_equal(end, 0x3000158);
	assert_true(replproto_timeline_end(h, strlen(h), 2, &end));
	assert_int_equal(end, 0x5A0000A8);
	assert_false(replproto_timeline_end(h, strlen(h), 3, &end));
	assert_false(replproto_timeline_end(h, strlen(h), 12, &end));
	assert_false(replproto_timeline_end("1\tnot-an-lsn\tx\n", 15, 1, &end));
	assert_false(replproto_timeline_end("", 0, 1, &end));
	/* Without the final newline, and a length that cuts the text. */
	assert_true(replproto_timeline_end("7\t1/2", 5, 7, &end));
	assert_int_equal(end, 0x100000002);
	assert_false(replproto_timeline_end("7\t1/2", 1, 7, &end));
	/* A reason longer than any buffer (a restore point's name). */
	{
		char lh[600];

		snprintf(lh, sizeof(lh), "4\t0/10\tat restore point \"%0500d\"\n", 0);
		assert_true(replproto_timeline_end(lh, strlen(lh), 4, &end));
		assert_int_equal(end, 0x10);
	}
}

/* Text for terminals and logs: control bytes escaped, UTF-8 kept. */
static void
test_buf_printable(void **state)
{
	static const char in[] = "red \x1b[31m\r\tline\nnext \xc3\xa9 \x7f end";
	struct buf b = BUF_INIT;

	(void) state;
	buf_append_printable(&b, in, sizeof(in) - 1, true);
	assert_string_equal(b.data, "red \\x1b[31m\\x0d\\x09line\nnext \xc3\xa9 \\x7f end");
	buf_reset(&b, 0);
	buf_append_printable(&b, "a\nb\0c", 5, false);
	assert_string_equal(b.data, "a\\x0ab\\x00c");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xlogdata),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_bad_kind),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_timeline_end),
		cmocka_unit_test(test_buf_json_string),
		cmocka_unit_test(test_buf_printable),
		cmocka_unit_test(test_buf_growth_and_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
