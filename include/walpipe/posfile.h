/* posfile.h: the durable record of a Kafka-only source's position, beside its slot. */
#ifndef WALPIPE_POSFILE_H
#define WALPIPE_POSFILE_H

#include "walpipe/lsn.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * Without an analytics database the slot is the checkpoint, and a slot
 * that is dropped and created again (after every failover on PostgreSQL
 * 15) starts at the current position: the changes between were never
 * produced.  walpipe therefore records, durably and before confirming it,
 * each position it confirms; a slot found ahead of the record was moved
 * by someone else.  The file holds text lines:
 *   walpipe position 1
 *   system_id 7441...
 *   timeline 1
 *   slot walpipe_shop
 *   lsn 0/1A2B3C4
 */
struct posfile_record {
	char system_id[32];
	int timeline;
	char slot[64];
	lsn_t lsn;
};

/*
 * Read path into *out.  Returns 1 read, 0 the file does not exist, -1 an
 * error (unreadable, malformed) with the reason in errbuf.  Does not log.
 */
int posfile_read(const char *path, struct posfile_record *out, char *errbuf,
				 size_t errlen);

/*
 * Replace path with r atomically and durably (a temporary file written
 * and fsynced, renamed over path, the directory fsynced).  Returns false
 * with the reason in errbuf.  Does not log.
 */
bool posfile_write(const char *path, const struct posfile_record *r,
				   char *errbuf, size_t errlen);

#endif
