/* test_txntrack.c: unit tests of the transaction tracker's delivered watermark. */
#include "walpipe/txntrack.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* Acks in order: the watermark follows each whole transaction. */
static void
test_in_order(void **state)
{
	struct txntrack *t = txntrack_new(100);
	uint64_t a, b, c;

	(void) state;
	assert_int_equal(txntrack_watermark(t), 100);
	txntrack_begin(t, 200);
	a = txntrack_add(t);
	b = txntrack_add(t);
	txntrack_commit(t);
	txntrack_begin(t, 300);
	c = txntrack_add(t);
	txntrack_commit(t);
	assert_int_equal(txntrack_pending(t), 3);
	assert_true(txntrack_ack(t, a));
	assert_int_equal(txntrack_watermark(t), 100); /* b still out */
	assert_true(txntrack_ack(t, b));
	assert_int_equal(txntrack_watermark(t), 200);
	assert_true(txntrack_ack(t, c));
	assert_int_equal(txntrack_watermark(t), 300);
	assert_int_equal(txntrack_pending(t), 0);
	assert_false(txntrack_ack(t, c)); /* twice */
	assert_false(txntrack_ack(t, 999));
	txntrack_free(t);
}

/* A later transaction delivered first does not move the watermark past
 * an earlier one that is not. */
static void
test_out_of_order(void **state)
{
	struct txntrack *t = txntrack_new(0);
	uint64_t a, b;

	(void) state;
	txntrack_begin(t, 10);
	a = txntrack_add(t);
	txntrack_commit(t);
	txntrack_begin(t, 20);
	b = txntrack_add(t);
	txntrack_commit(t);
	assert_true(txntrack_ack(t, b));
	assert_int_equal(txntrack_watermark(t), 0);
	assert_true(txntrack_ack(t, a));
	assert_int_equal(txntrack_watermark(t), 20);
	txntrack_free(t);
}

/* A transaction delivered before its commit arrives is not whole yet. */
static void
test_open_transaction(void **state)
{
	struct txntrack *t = txntrack_new(0);
	uint64_t a;

	(void) state;
	txntrack_begin(t, 50);
	a = txntrack_add(t);
	assert_true(txntrack_ack(t, a));
	assert_int_equal(txntrack_watermark(t), 0);
	txntrack_mark(t, 60); /* inside a transaction: ignored */
	assert_int_equal(txntrack_watermark(t), 0);
	txntrack_commit(t);
	assert_int_equal(txntrack_watermark(t), 50);
	txntrack_free(t);
}

/* Transactions without messages and marks wait for what is before them,
 * and alone move the watermark at once. */
static void
test_empty_and_marks(void **state)
{
	struct txntrack *t = txntrack_new(0);
	uint64_t a;

	(void) state;
	txntrack_begin(t, 10); /* nothing for Kafka */
	txntrack_commit(t);
	assert_int_equal(txntrack_watermark(t), 10);
	txntrack_mark(t, 15);
	assert_int_equal(txntrack_watermark(t), 15);
	txntrack_begin(t, 20);
	a = txntrack_add(t);
	txntrack_commit(t);
	txntrack_begin(t, 30);
	txntrack_commit(t);
	txntrack_mark(t, 40);
	assert_int_equal(txntrack_watermark(t), 15);
	assert_true(txntrack_ack(t, a));
	assert_int_equal(txntrack_watermark(t), 40);
	txntrack_mark(t, 35); /* backwards: ignored */
	assert_int_equal(txntrack_watermark(t), 40);
	txntrack_free(t);
}

/* Many transactions (the ring buffer grows and wraps), acknowledged in
 * reverse: nothing moves until the first, then everything. */
static void
test_many_reverse(void **state)
{
	enum { N = 1000 };
	static uint64_t tickets[N][2];
	struct txntrack *t = txntrack_new(0);

	(void) state;
	for (int round = 0; round < 3; round++) {
		lsn_t base = (lsn_t) round * 100000;

		for (int i = 0; i < N; i++) {
			txntrack_begin(t, base + 100 + (lsn_t) i * 10);
			tickets[i][0] = txntrack_add(t);
			tickets[i][1] = txntrack_add(t);
			txntrack_commit(t);
		}
		for (int i = N - 1; i > 0; i--) {
			assert_true(txntrack_ack(t, tickets[i][1]));
			assert_true(txntrack_ack(t, tickets[i][0]));
		}
		assert_int_equal(txntrack_watermark(t), round ? base - 100000 + 100 + (N - 1) * 10 : 0);
		assert_true(txntrack_ack(t, tickets[0][0]));
		assert_true(txntrack_ack(t, tickets[0][1]));
		assert_int_equal(txntrack_watermark(t), base + 100 + (N - 1) * 10);
		assert_int_equal(txntrack_pending(t), 0);
	}
	txntrack_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_open_transaction),
		cmocka_unit_test(test_empty_and_marks),
		cmocka_unit_test(test_many_reverse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
