/* replproto.c: the wire format of streaming replication CopyData messages. */
#include "walpipe/replproto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t
get_u64(const char *p)
{
	const unsigned char *u = (const unsigned char *) p;
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | u[i];
	return v;
}

static void
put_u64(char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (char) (v & 0xFF);
		v >>= 8;
	}
}

bool
replproto_parse(const char *msg, size_t len, struct replproto_msg *out,
				char *errbuf, size_t errlen)
{
	if (len == 0) {
		snprintf(errbuf, errlen, "empty replication message");
		return false;
	}
	switch (msg[0]) {
	case REPLPROTO_XLOGDATA:
		if (len < REPLPROTO_XLOGDATA_HDR) {
			snprintf(errbuf, errlen,
					 "streaming header too small: %zu bytes, expected at "
					 "least %d",
					 len, REPLPROTO_XLOGDATA_HDR);
			return false;
		}
		out->kind = REPLPROTO_XLOGDATA;
		out->data_start = get_u64(msg + 1);
		out->wal_end = get_u64(msg + 9);
		out->send_time = (int64_t) get_u64(msg + 17);
		out->reply_requested = false;
		out->payload = msg + REPLPROTO_XLOGDATA_HDR;
		out->payload_len = len - REPLPROTO_XLOGDATA_HDR;
		return true;
	case REPLPROTO_KEEPALIVE:
		if (len != REPLPROTO_KEEPALIVE_LEN) {
			snprintf(errbuf, errlen,
					 "keepalive message has %zu bytes, expected %d", len,
					 REPLPROTO_KEEPALIVE_LEN);
			return false;
		}
		out->kind = REPLPROTO_KEEPALIVE;
		out->data_start = LSN_INVALID;
		out->wal_end = get_u64(msg + 1);
		out->send_time = (int64_t) get_u64(msg + 9);
		out->reply_requested = msg[17] != 0;
		out->payload = NULL;
		out->payload_len = 0;
		return true;
	default:
		snprintf(errbuf, errlen,
				 "unrecognized streaming header: \"%c\" (0x%02x)",
				 (msg[0] >= 0x20 && msg[0] < 0x7f) ? msg[0] : '?',
				 (unsigned char) msg[0]);
		return false;
	}
}

void
replproto_build_status(char out[REPLPROTO_STATUS_LEN], lsn_t write,
					   lsn_t flush, lsn_t apply, int64_t now_us)
{
	out[0] = 'r';
	put_u64(out + 1, write);
	put_u64(out + 9, flush);
	put_u64(out + 17, apply);
	put_u64(out + 25, (uint64_t) (now_us - REPLPROTO_EPOCH_OFFSET_US));
	out[33] = 0;
}

bool
replproto_timeline_end(const char *history, size_t len, int tli, lsn_t *end)
{
	const char *p = history, *stop = history + len;

	while (p < stop) {
		const char *nl = memchr(p, '\n', (size_t) (stop - p));
		size_t n = nl ? (size_t) (nl - p) : (size_t) (stop - p);
		char line[128], *tab, *tab2;
		long parent;

		if (n > 0 && p[0] != '#') {
			/* The timeline and the LSN lead; the reason may be long. */
			size_t k = n < sizeof(line) - 1 ? n : sizeof(line) - 1;

			memcpy(line, p, k);
			line[k] = '\0';
			parent = strtol(line, &tab, 10);
			if (tab != line && (*tab == '\t' || *tab == ' ') &&
				parent == tli) {
				tab2 = tab + strspn(tab, "\t ");
				tab2[strcspn(tab2, "\t ")] = '\0';
				return lsn_parse(tab2, end, NULL, 0);
			}
		}
		p += n + 1;
	}
	return false;
}

