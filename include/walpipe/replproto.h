/* replproto.h: the wire format of streaming replication CopyData messages. */
#ifndef WALPIPE_REPLPROTO_H
#define WALPIPE_REPLPROTO_H

#include "walpipe/lsn.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Messages inside the CopyBoth stream of START_REPLICATION.  All integers
 * are big-endian (network order).
 *
 * Server -> client:
 *   XLogData 'w'          byte 0      'w'
 *                         bytes 1-8   dataStart: WAL position of the data
 *                         bytes 9-16  walEnd: current end of WAL on server
 *                         bytes 17-24 sendTime: µs since 2000-01-01 UTC
 *                         bytes 25-   payload (one wal2json message)
 *   Primary keepalive 'k' byte 0      'k'
 *                         bytes 1-8   walEnd: end of WAL sent so far
 *                         bytes 9-16  sendTime
 *                         byte 17     replyRequested: 1 = answer at once or
 *                                     be dropped by wal_sender_timeout
 *
 * Client -> server:
 *   Standby status 'r'    byte 0      'r'
 *                         bytes 1-8   write: last WAL byte received + 1
 *                         bytes 9-16  flush: durably stored; for a logical
 *                                     slot this alone moves
 *                                     confirmed_flush_lsn
 *                         bytes 17-24 apply: applied
 *                         bytes 25-32 sendTime
 *                         byte 33     replyRequested (walpipe sends 0)
 */

enum replproto_kind {
	REPLPROTO_XLOGDATA = 'w',
	REPLPROTO_KEEPALIVE = 'k',
};

#define REPLPROTO_XLOGDATA_HDR 25
#define REPLPROTO_KEEPALIVE_LEN 18
#define REPLPROTO_STATUS_LEN 34

/* Microseconds between the Unix epoch and 2000-01-01 00:00:00 UTC. */
#define REPLPROTO_EPOCH_OFFSET_US INT64_C(946684800000000)

struct replproto_msg {
	enum replproto_kind kind;
	lsn_t data_start;	  /* 'w' only */
	lsn_t wal_end;		  /* both */
	int64_t send_time;	  /* both, µs since 2000-01-01 */
	bool reply_requested; /* 'k' only */
	const char *payload;  /* 'w' only: borrows from the input buffer */
	size_t payload_len;
};

/*
 * Parse one CopyData message of len bytes.  Returns true and fills *out
 * (whose payload points into msg); false with a message in errbuf for an
 * unknown type or a wrong length.  Does not log.
 */
bool replproto_parse(const char *msg, size_t len, struct replproto_msg *out,
					 char *errbuf, size_t errlen);

/*
 * Build a standby status update into out (REPLPROTO_STATUS_LEN bytes).
 * now_us is µs since the Unix epoch.
 */
void replproto_build_status(char out[REPLPROTO_STATUS_LEN], lsn_t write,
							lsn_t flush, lsn_t apply, int64_t now_us);

/*
 * Where timeline tli ended, from the history file of a later timeline
 * (TIMELINE_HISTORY's content: lines "parentTLI<tab>switchpoint<tab>
 * reason", '#' comments).  Returns true with *end set, false when tli is
 * not in the history (or its line is malformed).  Pure.
 */
bool replproto_timeline_end(const char *history, size_t len, int tli,
							lsn_t *end);

#endif
