/* fuzz_kafka_pos.c: libFuzzer target for the position headers of Kafka messages read back (kafka_pos.h), with their round trip. */
#include "walpipe/kafka_pos.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The input is the headers txn_end, txn_pos and op, one a line (a missing
 * line: a missing header); a trailing byte other than a newline makes
 * the message a tombstone.  A position that parses formats back to
 * headers that parse to the same position.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *part[3] = {NULL, NULL, NULL};
	size_t len[3] = {0, 0, 0};
	const char *s = (const char *) data, *end = s + size;
	struct kafka_pos p, back;
	char lsn[LSN_STRLEN], pos[24];
	bool tombstone = size > 0 && s[size - 1] != '\n';

	for (int i = 0; i < 3 && s < end; i++) {
		const char *nl = memchr(s, '\n', (size_t) (end - s));

		part[i] = s;
		len[i] = (size_t) ((nl ? nl : end) - s);
		s = nl ? nl + 1 : end;
	}
	if (!kafka_pos_parse(&p, part[0], len[0], part[1], len[1], part[2],
						 len[2], tombstone))
		return 0;
	if (part[2][0] == 'r' || p.rank < 0 || p.rank > 2)
		abort();
	lsn_format(p.end, lsn);
	snprintf(pos, sizeof(pos), "%" PRIu64, p.pos);
	if (!kafka_pos_parse(&back, lsn, strlen(lsn), pos, strlen(pos), part[2],
						 1, tombstone) ||
		kafka_pos_cmp(&p, &back) != 0)
		abort();
	return 0;
}
