/* fuzz_pgoutput.c: libFuzzer target for the pgoutput decoder and its change records written as JSON. */
#include "walpipe/buf.h"
#include "walpipe/changefmt.h"
#include "walpipe/pgoutput.h"
#include "walpipe/wal2json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The input is a stream: messages of 2-byte big-endian length each, so
 * that Relation messages fill the cache the later changes use.  Every
 * record decoded is written out as JSON, which wal2json's decoder must
 * read back as the same action with as many columns: the JSON a consumer
 * of staging or Kafka gets is valid whatever the server sent.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct w2j_decoder *back;
	struct pgo_decoder *dec = pgo_decoder_new();
	struct buf json = BUF_INIT;
	char err[256];
	size_t pos = 0;
	lsn_t lsn = 1;

	if (back == NULL)
		back = w2j_decoder_new();
	pgo_decoder_keep_types(dec, size > 0 && (data[0] & 1));
	while (size - pos >= 2) {
		size_t len = ((size_t) data[pos] << 8) | data[pos + 1];
		int n;

		pos += 2;
		if (len > size - pos)
			len = size - pos;
		n = pgo_decode(dec, lsn++, (const char *) data + pos, len, err,
					   sizeof(err));
		pos += len;
		for (int i = 0; i < n; i++) {
			struct w2j_change c, again;

			pgo_decoder_change(dec, (size_t) i, &c);
			buf_reset(&json, 1 << 16);
			changefmt_json(&json, &c);
			if (!w2j_decode(back, json.data, json.len, &again, err,
							sizeof(err)) ||
				again.action != c.action || again.ncolumns != c.ncolumns ||
				again.nidentity != c.nidentity)
				abort();
		}
	}
	buf_free(&json);
	pgo_decoder_free(dec);
	return 0;
}
