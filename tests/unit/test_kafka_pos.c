/* test_kafka_pos.c: unit tests of Kafka stream positions: header parsing and order. */
#include "walpipe/kafka_pos.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static bool
parse(struct kafka_pos *p, const char *end, const char *pos, const char *op,
	  bool tombstone)
{
	return kafka_pos_parse(p, end, end ? strlen(end) : 0, pos,
						   pos ? strlen(pos) : 0, op, op ? strlen(op) : 0,
						   tombstone);
}

static void
test_parse_headers(void **state)
{
	struct kafka_pos p;

	(void) state;
	assert_true(parse(&p, "16/B374D848", "42", "u", false));
	assert_int_equal(p.end, UINT64_C(0x16B374D848));
	assert_int_equal(p.pos, 42);
	assert_int_equal(p.rank, 0);
	assert_true(parse(&p, "0/10", "18446744073709551615", "E", false));
	assert_int_equal(p.pos, UINT64_MAX);
	/* BEGIN events are position 0 */
	assert_true(parse(&p, "0/10", "0", "B", false));
	assert_int_equal(p.pos, 0);
	/* not walpipe's, or not a stream position */
	assert_false(parse(&p, NULL, "1", "c", false));
	assert_false(parse(&p, "0/10", NULL, "c", false));
	assert_false(parse(&p, "0/10", "1", NULL, false));
	assert_false(parse(&p, "0/10", "1", "r", false)); /* snapshot read */
	assert_false(parse(&p, "0/10", "1", "cc", false));
	assert_false(parse(&p, "0/10", "1", "", false));
	assert_false(parse(&p, "10", "1", "c", false));
	assert_false(parse(&p, "0/10 ", "1", "c", false));
	assert_false(parse(&p, "FFFFFFFF/FFFFFFFFF", "1", "c", false));
	assert_false(parse(&p, "0/10", "", "c", false));
	assert_false(parse(&p, "0/10", "-1", "c", false));
	assert_false(parse(&p, "0/10", "1x", "c", false));
	assert_false(parse(&p, "0/10", "18446744073709551616", "c", false));
	assert_false(parse(&p, "0/10", "000000000000000000001", "c", false));
}

static void
test_header_not_terminated(void **state)
{
	struct kafka_pos p;
	const char end[] = "0/20XYZ", pos[] = "77123";

	(void) state;
	/* Header values are bytes with a length, not C strings. */
	assert_true(kafka_pos_parse(&p, end, 4, pos, 2, "dx", 1, true));
	assert_int_equal(p.end, 0x20);
	assert_int_equal(p.pos, 77);
	assert_int_equal(p.rank, 1);
}

/* The messages of one position, in the order walpipe produces them. */
static void
test_order(void **state)
{
	struct kafka_pos seq[8];
	struct kafka_pos read;

	(void) state;
	kafka_pos_make(&seq[0], 0x100, 0, 'B', false);
	kafka_pos_make(&seq[1], 0x100, 1, 'u', false);
	kafka_pos_make(&seq[2], 0x100, 2, 'd', false); /* key change: delete */
	kafka_pos_make(&seq[3], 0x100, 2, 'd', true);  /* its tombstone */
	kafka_pos_make(&seq[4], 0x100, 2, 'c', false); /* the new key */
	kafka_pos_make(&seq[5], 0x100, 3, 'E', false);
	kafka_pos_make(&seq[6], 0x101, 1, 'm', false); /* a later message */
	kafka_pos_make(&seq[7], UINT64_C(0x100000000), 1, 't', false);
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 8; j++) {
			int c = kafka_pos_cmp(&seq[i], &seq[j]);

			assert_int_equal(c < 0 ? -1 : c > 0, i < j ? -1 : i > j);
		}
	/* What a partition says matches what walpipe would produce. */
	assert_true(parse(&read, "0/100", "2", "d", true));
	assert_int_equal(kafka_pos_cmp(&read, &seq[3]), 0);
	assert_true(kafka_pos_cmp(&read, &seq[4]) < 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_headers),
		cmocka_unit_test(test_header_not_terminated),
		cmocka_unit_test(test_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
