/* kafka_pos.c: a Kafka message's place in the source stream, from walpipe's headers. */
#include "walpipe/kafka_pos.h"

#include <string.h>

static int
rank_of(char op, bool tombstone)
{
	if (tombstone)
		return 1;
	/* The create of a key-changing update follows its delete and
	 * tombstone; a plain insert is alone at its position. */
	return op == 'c' ? 2 : 0;
}

void
kafka_pos_make(struct kafka_pos *out, lsn_t end, uint64_t pos, char op,
			   bool tombstone)
{
	out->end = end;
	out->pos = pos;
	out->rank = rank_of(op, tombstone);
}

bool
kafka_pos_parse(struct kafka_pos *out, const char *end, size_t end_len,
				const char *pos, size_t pos_len, const char *op,
				size_t op_len, bool tombstone)
{
	char text[LSN_STRLEN + 1], err[8];
	uint64_t n = 0;

	if (end == NULL || pos == NULL || op == NULL || op_len != 1 ||
		op[0] == 'r' || end_len == 0 || end_len >= sizeof(text) ||
		pos_len == 0 || pos_len > 20)
		return false;
	memcpy(text, end, end_len);
	text[end_len] = '\0';
	if (!lsn_parse(text, &out->end, err, sizeof(err)))
		return false;
	for (size_t i = 0; i < pos_len; i++) {
		unsigned d = (unsigned) (pos[i] - '0');

		if (d > 9 || n > (UINT64_MAX - d) / 10)
			return false;
		n = n * 10 + d;
	}
	out->pos = n;
	out->rank = rank_of(op[0], tombstone);
	return true;
}

int
kafka_pos_cmp(const struct kafka_pos *a, const struct kafka_pos *b)
{
	if (a->end != b->end)
		return a->end < b->end ? -1 : 1;
	if (a->pos != b->pos)
		return a->pos < b->pos ? -1 : 1;
	return (a->rank > b->rank) - (a->rank < b->rank);
}
