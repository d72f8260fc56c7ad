/* fuzz_wal2json.c: libFuzzer target for the wal2json v2 decoder and its JSON writer. */
#include "walpipe/buf.h"
#include "walpipe/changefmt.h"
#include "walpipe/wal2json.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Each line of the input is one message (the seed corpus is wal2json
 * output, one message per line).  A message that decodes must survive
 * the round trip: written back by changefmt_json, it decodes again into
 * the same action, and a row change into the same table and columns, with
 * the same values (changefmt writes the fields each action has, so a
 * "table" sent with a commit is not compared).
 */
static void
differs(const char *what, const char *json)
{
	fprintf(stderr, "round trip changed %s:\n%s\n", what, json);
	abort();
}

static void
check_round_trip(const struct w2j_change *c, struct w2j_decoder *again)
{
	struct buf out = BUF_INIT;
	struct w2j_change c2;
	char err[256];
	bool row;

	changefmt_json(&out, c);
	if (!w2j_decode(again, out.data, out.len, &c2, err, sizeof(err))) {
		fprintf(stderr, "round trip failed: %s\n%s\n", err, out.data);
		abort();
	}
	if (c2.action != c->action)
		differs("the action", out.data);
	row = c->action == W2J_INSERT || c->action == W2J_UPDATE ||
		  c->action == W2J_DELETE || c->action == W2J_TRUNCATE;
	if (row && (c2.nidentity != c->nidentity || c2.table == NULL ||
				strcmp(c->table ? c->table : "", c2.table) != 0))
		differs("the table or identity", out.data);
	if (c->action != W2J_INSERT && c->action != W2J_UPDATE) {
		buf_free(&out);
		return;
	}
	if (c2.ncolumns != c->ncolumns)
		differs("the columns", out.data);
	for (size_t i = 0; i < c->ncolumns; i++) {
		const struct w2j_column *a = &c->columns[i], *b = &c2.columns[i];

		if (a->kind != b->kind || a->value_len != b->value_len ||
			a->name_len != b->name_len ||
			memcmp(a->name, b->name, a->name_len) != 0 ||
			(a->value && memcmp(a->value, b->value, a->value_len) != 0))
			differs(a->name, out.data);
	}
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct w2j_decoder *dec, *again;
	const char *p = (const char *) data, *end = p + size;
	struct w2j_change c;
	char err[256];

	if (dec == NULL) {
		dec = w2j_decoder_new();
		again = w2j_decoder_new();
	}
	/* The first byte's low bit: as if numeric-data-types-as-string. */
	w2j_decoder_numbers_as_strings(dec, size > 0 && (data[0] & 1), true);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t) (end - p));
		size_t len = nl ? (size_t) (nl - p) : (size_t) (end - p);

		if (w2j_decode(dec, p, len, &c, err, sizeof(err)))
			check_round_trip(&c, again);
		else if (strncmp(err, "invalid wal2json message at byte ", 33) != 0)
			abort(); /* every error names its byte */
		p += len + 1;
	}
	return 0;
}
