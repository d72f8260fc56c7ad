/* catalog.h: what the source database says about a mapped table's columns and key. */
#ifndef WALPIPE_CATALOG_H
#define WALPIPE_CATALOG_H

#include "walpipe/map.h"

#include <libpq-fe.h>
#include <stddef.h>

/*
 * Read the columns of schema.table from the source catalog, in column
 * order, with format_type() types and whether each is part of the replica
 * identity (the primary key under REPLICA IDENTITY DEFAULT, the chosen
 * index under USING INDEX; under FULL the primary key if there is one).
 *
 * Returns the array (caller frees with catalog_free_columns) and its
 * length in *n, or NULL with a message in errbuf: the table does not
 * exist, or (when need_key) it has no replica identity that identifies a
 * row, so its updates and deletes cannot be applied.  Does not log.
 */
struct map_srccol *catalog_table_columns(PGconn *conn, const char *schema,
										 const char *table, bool need_key,
										 size_t *n, char *errbuf,
										 size_t errlen);

void catalog_free_columns(struct map_srccol *cols, size_t n);

#endif
