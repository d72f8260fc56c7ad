/* test_streampos.c: unit tests of the stream position: skips, split transactions, batch ends. */
#include "walpipe/streampos.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static const struct stream_point none = {0x1000, LSN_INVALID, 0};

/* Whole transactions: a batch after each commit reaches its end. */
static void
test_whole_transactions(void **state)
{
	struct streampos p;
	struct stream_point next;

	(void) state;
	streampos_start(&p, &none);
	streampos_next(&p, &next);
	assert_int_equal(next.lsn, 0x1000);
	streampos_begin(&p, 0x2000, &none);
	assert_true(streampos_change(&p));
	assert_true(streampos_change(&p));
	streampos_next(&p, &next); /* mid-transaction: a split point */
	assert_int_equal(next.lsn, 0x1000);
	assert_int_equal(next.txn_end, 0x2000);
	assert_int_equal(next.txn_applied, 2);
	assert_true(streampos_commit(&p));
	streampos_next(&p, &next);
	assert_int_equal(next.lsn, 0x2000);
	assert_int_equal(next.txn_end, LSN_INVALID);
	assert_int_equal(next.txn_applied, 0);
}

/* A restart inside a split transaction: its first txn_applied changes and
 * every whole transaction at or before the point are skipped, exactly. */
static void
test_resume_inside_split(void **state)
{
	const struct stream_point at = {0x2000, 0x3000, 3};
	struct streampos p;
	struct stream_point next;

	(void) state;
	streampos_start(&p, &at);
	/* A transaction the point covers wholly (the stream starts at the
	 * slot, which may be behind). */
	streampos_begin(&p, 0x1800, &at);
	assert_false(streampos_change(&p));
	assert_false(streampos_commit(&p));
	streampos_begin(&p, 0x2000, &at); /* ends exactly at the point */
	assert_false(streampos_change(&p));
	assert_false(streampos_commit(&p));
	/* The split one: three in, the fourth and fifth new. */
	streampos_begin(&p, 0x3000, &at);
	assert_false(streampos_change(&p));
	assert_false(streampos_change(&p));
	assert_false(streampos_change(&p));
	assert_true(streampos_change(&p));
	streampos_next(&p, &next);
	assert_int_equal(next.txn_end, 0x3000);
	assert_int_equal(next.txn_applied, 4); /* counts the skipped ones */
	assert_true(streampos_change(&p));
	assert_true(streampos_commit(&p));
	streampos_next(&p, &next);
	assert_int_equal(next.lsn, 0x3000);
	assert_int_equal(next.txn_end, LSN_INVALID);
	/* The next transaction: nothing skipped. */
	streampos_begin(&p, 0x4000, &at);
	assert_true(streampos_change(&p));
}

/* A wholly skipped transaction open at a batch end is no split point. */
static void
test_skipped_open_transaction(void **state)
{
	const struct stream_point at = {0x5000, LSN_INVALID, 0};
	struct streampos p;
	struct stream_point next;

	(void) state;
	streampos_start(&p, &at);
	streampos_begin(&p, 0x4000, &at);
	assert_false(streampos_change(&p));
	streampos_next(&p, &next);
	assert_int_equal(next.lsn, 0x5000);
	assert_int_equal(next.txn_end, LSN_INVALID);
	assert_int_equal(next.txn_applied, 0);
}

/* Taking a change back: a later session sees it again. */
static void
test_uncount(void **state)
{
	struct streampos p;
	struct stream_point next;

	(void) state;
	streampos_start(&p, &none);
	streampos_begin(&p, 0x2000, &none);
	assert_true(streampos_change(&p));
	assert_true(streampos_change(&p));
	streampos_uncount(&p);
	streampos_next(&p, &next);
	assert_int_equal(next.txn_applied, 1);
	streampos_uncount(&p);
	streampos_uncount(&p); /* never below zero */
	streampos_next(&p, &next);
	assert_int_equal(next.txn_end, LSN_INVALID);
	assert_int_equal(p.txn_pos, 0);
}

/* Messages outside transactions and keepalives move an idle position,
 * never backwards and never inside a transaction. */
static void
test_idle_advance(void **state)
{
	struct streampos p;

	(void) state;
	streampos_start(&p, &none);
	/* A message's lsn is the end of its record: the position moves to
	 * it, not past it, so a commit beginning there is not skipped. */
	assert_true(streampos_message(&p, 0x1500));
	assert_int_equal(p.last_complete, 0x1500);
	assert_false(streampos_message(&p, 0x1500));
	assert_false(streampos_message(&p, 0x1400));
	assert_int_equal(p.last_complete, 0x1500);
	streampos_begin(&p, 0x1501, &none); /* pgoutput: commit at 0x1500 */
	assert_true(streampos_change(&p));
	assert_true(streampos_commit(&p));
	assert_int_equal(p.last_complete, 0x1501);
	assert_true(streampos_idle(&p, 0x1800));
	assert_false(streampos_idle(&p, 0x1800));
	streampos_begin(&p, 0x2000, &none);
	assert_false(streampos_idle(&p, 0x9000));
	assert_false(streampos_message(&p, 0x9000));
	assert_int_equal(p.last_complete, 0x1800);
	assert_true(streampos_commit(&p));
	assert_int_equal(p.last_complete, 0x2000);
	/* A commit behind last_complete (after an idle advance) moves
	 * nothing back. */
	assert_true(streampos_idle(&p, 0x3000));
	streampos_begin(&p, 0x2800, &none);
	assert_true(streampos_change(&p));
	assert_false(streampos_commit(&p));
	assert_int_equal(p.last_complete, 0x3000);
}

/* A copy's rows: one transaction ending at the consistent point, every
 * row new, numbered from 1; nothing completes until the copy is done. */
static void
test_copy_rows(void **state)
{
	struct streampos p;
	struct stream_point next;

	(void) state;
	streampos_copy_start(&p, 0x5000);
	for (uint64_t i = 1; i <= 3; i++) {
		assert_true(streampos_change(&p));
		assert_int_equal(p.txn_end, 0x5000);
		assert_int_equal(p.txn_pos, i);
	}
	streampos_next(&p, &next);
	assert_int_equal(next.lsn, LSN_INVALID);
	assert_int_equal(next.txn_end, 0x5000);
	assert_int_equal(next.txn_applied, 3);
}

/* What a copy holds: transactions ending at or before its point. */
static void
test_copy_holds(void **state)
{
	(void) state;
	assert_true(streampos_copy_holds(0x5000, 0x4fff));
	assert_true(streampos_copy_holds(0x5000, 0x5000));
	assert_false(streampos_copy_holds(0x5000, 0x5001));
}

/* A copy is ahead of a checkpoint that has not reached its point; one
 * exactly at the checkpoint is passed. */
static void
test_copy_ahead(void **state)
{
	const struct stream_point ckpt = {0x5000, 0x6000, 2};

	(void) state;
	assert_true(streampos_copy_ahead(0x5001, &ckpt));
	assert_false(streampos_copy_ahead(0x5000, &ckpt));
	assert_false(streampos_copy_ahead(0x4000, &ckpt));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_transactions),
		cmocka_unit_test(test_resume_inside_split),
		cmocka_unit_test(test_skipped_open_transaction),
		cmocka_unit_test(test_uncount),
		cmocka_unit_test(test_idle_advance),
		cmocka_unit_test(test_copy_rows),
		cmocka_unit_test(test_copy_holds),
		cmocka_unit_test(test_copy_ahead),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
