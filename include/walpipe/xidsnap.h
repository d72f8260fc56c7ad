/* xidsnap.h: source snapshots and transaction ids, for merging a backfill's chunks with the stream exactly. */
#ifndef WALPIPE_XIDSNAP_H
#define WALPIPE_XIDSNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A snapshot as pg_current_snapshot() prints it: "xmin:xmax:xip,...",
 * 64-bit transaction ids (xid8).  A committed transaction is visible in
 * it iff its id is below xmin, or below xmax and not in xip.  Pure; owns
 * xip (xidsnap_free).
 */
struct xidsnap {
	uint64_t xmin, xmax;
	uint64_t *xip;
	size_t nxip;
};

/* Parse text into *out; false (out empty) if it is not a snapshot. */
bool xidsnap_parse(const char *text, struct xidsnap *out);
void xidsnap_free(struct xidsnap *s); /* leaves it empty; NULL-safe */

/* The xid8 of a 32-bit xid (as the stream gives it) of ref's era: the one
 * nearest ref (within 2^31). */
uint64_t xidsnap_widen(uint32_t xid, uint64_t ref);

/* Whether committed transaction xid (xid8) is visible in s. */
bool xidsnap_sees(const struct xidsnap *s, uint64_t xid);

/*
 * The transactions a stream passed that no snapshot has yet been seen to
 * hold.  A transaction visible in one snapshot is visible in every later
 * one, so each snapshot checked prunes what it holds.  Pure; owns its
 * array (xidset_free).
 */
struct xidset {
	uint32_t *xid;
	size_t n, cap;
};

void xidset_add(struct xidset *set, uint32_t xid); /* 0 is ignored */
/* Drop what s holds; returns the first xid s does not hold, 0 if none. */
uint32_t xidset_prune(struct xidset *set, const struct xidsnap *s);
void xidset_free(struct xidset *set); /* leaves it empty */

#endif
