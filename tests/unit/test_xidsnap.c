/* test_xidsnap.c: unit tests of snapshots and transaction ids (backfill chunks against the stream). */
#include "walpipe/map.h"
#include "walpipe/xidsnap.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void
test_parse(void **state)
{
	struct xidsnap s;
	static const char *const bad[] = {
		"", ":", "1:2", "1:2:x", "5:4:", "1:9:3,", "1:9:,3", "1:9:0",
		"1:9:9", "1:9:3,,4", "-1:2:", "1:2:3 ", "18446744073709551616:1:",
		" 1:2:"};

	(void) state;
	assert_true(xidsnap_parse("740:740:", &s));
	assert_int_equal(s.xmin, 740);
	assert_int_equal(s.xmax, 740);
	assert_int_equal(s.nxip, 0);
	xidsnap_free(&s);
	assert_true(xidsnap_parse("10:20:10,12,19", &s));
	assert_int_equal(s.nxip, 3);
	assert_int_equal(s.xip[2], 19);
	xidsnap_free(&s);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(xidsnap_parse(bad[i], &s));
		assert_null(s.xip);
	}
}

static void
test_sees(void **state)
{
	struct xidsnap s;

	(void) state;
	assert_true(xidsnap_parse("10:20:12,15", &s));
	assert_true(xidsnap_sees(&s, 9));	/* finished before it */
	assert_true(xidsnap_sees(&s, 11));	/* committed, not running */
	assert_false(xidsnap_sees(&s, 12)); /* running when it was taken */
	assert_false(xidsnap_sees(&s, 20)); /* not yet completed */
	assert_false(xidsnap_sees(&s, 25));
	xidsnap_free(&s);
}

static void
test_widen(void **state)
{
	const uint64_t era = (uint64_t) 1 << 32;

	(void) state;
	assert_int_equal(xidsnap_widen(100, 200), 100);
	/* An xid from before the wraparound of the 32 bits. */
	assert_int_equal(xidsnap_widen(0xFFFFFFF0u, era + 5), 0xFFFFFFF0u);
	assert_int_equal(xidsnap_widen(3, era + 5), era + 3);
	assert_int_equal(xidsnap_widen(7, era - 10), era + 7);
	assert_int_equal(xidsnap_widen(0xFFFFFFF0u, 5), 0xFFFFFFF0u);
}

/* A commit that reached the stream before the snapshot saw it (say,
 * waiting for a synchronous standby) keeps a chunk back until a snapshot
 * holds it; whatever a snapshot holds is dropped for good. */
static void
test_set(void **state)
{
	struct xidset set = {0};
	struct xidsnap a, b;

	(void) state;
	xidset_add(&set, 0); /* no xid: a message outside transactions */
	for (uint32_t x = 100; x < 3000; x++)
		xidset_add(&set, x);
	assert_true(xidsnap_parse("150:3000:150", &a));
	assert_int_equal(xidset_prune(&set, &a), 150);
	assert_int_equal(set.n, 1);
	assert_true(xidsnap_parse("151:3005:", &b));
	assert_int_equal(xidset_prune(&set, &b), 0);
	assert_int_equal(set.n, 0);
	xidset_add(&set, 3004);
	assert_int_equal(xidset_prune(&set, &a), 3004); /* a is older */
	xidsnap_free(&a);
	xidsnap_free(&b);
	xidset_free(&set);
}

/* A chunk's query walks the key in index order, after the last key. */
static void
test_chunk_query(void **state)
{
	struct map_srccol c[2] = {{.name = "id", .type = "bigint", .key = true},
							  {.name = "Note", .type = "text"}};
	struct map_key k[2] = {{.name = "id", .type = "bigint"},
						   {.name = "Note", .type = "text"}};
	char *q;

	(void) state;
	q = map_chunk_query("public", "big", false, c, 2, k, 2, true, 500, "0/1");
	assert_non_null(strstr(q, "\"id\"::text AS _walpipe_key1, "
							  "\"Note\"::text AS _walpipe_key2 FROM ONLY "
							  "\"public\".\"big\" WHERE (\"id\", \"Note\") > "
							  "($1::bigint, $2::text) ORDER BY \"id\", "
							  "\"Note\" LIMIT 500"));
	free(q);
	q = map_chunk_query("s", "p", true, c, 1, k, 1, false, 7, "0/1");
	assert_non_null(strstr(q, " FROM \"s\".\"p\" ORDER BY \"id\" LIMIT 7"));
	free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),	   cmocka_unit_test(test_sees),
		cmocka_unit_test(test_widen),	   cmocka_unit_test(test_set),
		cmocka_unit_test(test_chunk_query),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
