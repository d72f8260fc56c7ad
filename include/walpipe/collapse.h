/* collapse.h: a batch's changes to one mapped table merged per key, as COPY rows. */
#ifndef WALPIPE_COLLAPSE_H
#define WALPIPE_COLLAPSE_H

#include "walpipe/batch.h"
#include "walpipe/buf.h"
#include "walpipe/map.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * Collapsing (upsert mappings): the changes of one source row within a
 * batch are merged in LSN order into one row of the temp table:
 *   insert                      -> 'U' full row, 'N' if it is the key's
 *                                  first change in the batch (upsert
 *                                  mappings): the key is new to a mirror;
 *                                  a column it lacks (added since) gets
 *                                  the column's missing value (map.h)
 *   update with every column    -> 'U' full row
 *   update, TOAST columns absent-> merged into an earlier 'U' of the same
 *                                  key (stays full), else 'P' partial
 *   delete                      -> 'D' (replaces whatever came before)
 *   insert or update, then a delete, under a soft-delete mapping
 *                               -> the 'U' or 'P' row with sop 'D': it is
 *                                  upserted, then marked deleted
 *   delete, then insert         -> 'U' full row: the row ends present
 *   insert, then any changes    -> 'N' while the row ends full and
 *                                  present (or soft-deleted)
 *   update, columns absent      -> filled from its identity where that has
 *                                  them (an out-of-line replica identity
 *                                  value; REPLICA IDENTITY FULL)
 *   update that changes the key -> 'D' of the old key, then the new key's
 *                                  row: full when the update or the
 *                                  batch's row of the old key supplies
 *                                  every column, else 'M' (completed from
 *                                  the target row at the old key; _from
 *                                  is the temp row holding that key)
 *   a 'P' or 'M' row that the mapping cannot compute from the columns
 *                               -> 'X' by collapse_check: dead-lettered
 *                                  (map_plan_partial_ok says why)
 * Append mappings keep every insert and update as its own row.
 * Keyless mappings (MAP_MODE_KEYLESS, merge false) keep every change, in
 * stream order: an insert is a 'U' row, a delete a 'D' row of its
 * identity (the old row), an update an 'O' row of its identity followed
 * by a 'W' row of its new values (absent columns from the identity).
 *
 * Rows point into the batch's memory: use them before batch_reset.
 */
struct collapse;

/* Never NULL; free with collapse_free (NULL-safe). */
struct collapse *collapse_new(void);
void collapse_free(struct collapse *c);

/* Forget all rows, keeping memory for the next batch (up to a cap). */
void collapse_reset(struct collapse *c);

/*
 * Add change idx of batch b (an I, U or D of the plan's source table).
 * srccols are the columns the plan was compiled with.  merge: collapse
 * per key (upsert); false appends (append mode).
 */
void collapse_add(struct collapse *c, const struct batch *b, size_t idx,
				  const struct map_plan *p, const struct map_srccol *srccols,
				  bool merge);

size_t collapse_count(const struct collapse *c);

/*
 * Append rows first..last (0-based, inclusive) as COPY text lines for
 * the plan's COPY statement; row i gets _seq i + 1.  skip_new leaves out
 * the 'N' rows (collapse_copy_new sends them to the target).
 */
void collapse_copy_text(const struct collapse *c, const struct batch *b,
						const struct map_plan *p,
						const struct map_srccol *srccols, size_t first,
						size_t last, bool skip_new, struct buf *out);

/*
 * Append the 'N' rows among first..last (0-based, inclusive) as COPY
 * text lines for the plan's copy_new: the mapped columns' values in the
 * mapping's order (p->copy_new must be set).
 */
void collapse_copy_new(const struct collapse *c, const struct map_plan *p,
					   const struct map_srccol *srccols, size_t first,
					   size_t last, struct buf *out);

/* The batch index of the last change merged into row seq (1-based). */
size_t collapse_change_of(const struct collapse *c, size_t seq);

/* The op ('U', 'N', 'P', 'M', 'D', 'X', 'O' or 'W') of row seq
 * (1-based). */
char collapse_op_of(const struct collapse *c, size_t seq);

/*
 * Mark every 'P' or 'M' row that map_plan_partial_ok refuses as 'X' (to
 * be dead-lettered, not applied); returns how many.  Call once after the
 * last collapse_add of a batch.
 */
size_t collapse_check(struct collapse *c, const struct map_plan *p);

/* The presence flags (one per tmp column) of row seq (1-based). */
const bool *collapse_present_of(const struct collapse *c, size_t seq);

#endif
