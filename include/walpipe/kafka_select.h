/* kafka_select.h: Debezium's column.include.list / column.exclude.list and message.key.columns. */
#ifndef WALPIPE_KAFKA_SELECT_H
#define WALPIPE_KAFKA_SELECT_H

#include "walpipe/kafka_msg.h"
#include "walpipe/wal2json.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * Which columns of a change go to Kafka, and which form its key, as
 * Debezium's options say (format debezium):
 *   column_include_list / column_exclude_list: comma-separated POSIX
 *     extended regular expressions, each matching a whole
 *     "schema.table.column" (at most one of the two lists);
 *   message_key_columns: "schema.table:col1,col2;schema2.table2:col"
 *     (the table part a regular expression matching a whole
 *     "schema.table"; the first entry that matches wins), the key of
 *     that table's messages instead of its primary key.
 * Pure (no I/O, no logging).  Owns everything it holds; not thread-safe
 * (it caches each table's answers).
 */
struct kafka_select;

/*
 * Compile the three options (NULL or "": not set).  Returns NULL when
 * nothing is set, and NULL with *err set (errbuf says which expression
 * and why) on a bad one.  Free with kafka_select_free (NULL-safe).
 */
struct kafka_select *kafka_select_new(const char *include,
									  const char *exclude,
									  const char *key_columns, bool *err,
									  char *errbuf, size_t errlen);
void kafka_select_free(struct kafka_select *s);

/* Whether schema.table.column goes to Kafka. */
bool kafka_select_column(struct kafka_select *s, const char *schema,
						 const char *table, const char *column);

/* Arrays kafka_select_apply fills (reused across calls; zero it first,
 * free with kafka_select_scratch_free). */
struct kafka_select_scratch {
	struct w2j_column *cols, *ident, *pk;
	struct kafka_column *tcols;
	size_t cap;
};
void kafka_select_scratch_free(struct kafka_select_scratch *sc);

/*
 * *out: c with the columns left out taken from its row and identity,
 * and its key columns (pk) those of message_key_columns for its table
 * if any; *tout likewise for tab (NULL: *tout unused).  The arrays live
 * in sc until the next call; names and values stay c's and tab's.
 */
void kafka_select_apply(struct kafka_select *s, const struct w2j_change *c,
						const struct kafka_table *tab, struct w2j_change *out,
						struct kafka_table *tout,
						struct kafka_select_scratch *sc);

#endif
