/* fuzz_replproto.c: libFuzzer target for the CopyData parser, and the wal2json payload behind it. */
#include "walpipe/replproto.h"
#include "walpipe/wal2json.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct w2j_decoder *dec;
	struct replproto_msg m;
	struct w2j_change c;
	char err[256];

	if (dec == NULL)
		dec = w2j_decoder_new();
	if (!replproto_parse((const char *) data, size, &m, err, sizeof(err)))
		return 0;
	if (m.kind == REPLPROTO_XLOGDATA) {
		/* The payload lies inside the message, after the header. */
		if (m.payload != (const char *) data + REPLPROTO_XLOGDATA_HDR ||
			m.payload_len != size - REPLPROTO_XLOGDATA_HDR)
			abort();
		(void) w2j_decode(dec, m.payload, m.payload_len, &c, err,
						  sizeof(err));
	} else if (m.kind != REPLPROTO_KEEPALIVE ||
			   size != REPLPROTO_KEEPALIVE_LEN) {
		abort();
	}
	return 0;
}
