/* pgoutput.h: decoder of PostgreSQL's logical replication protocol (pgoutput) into change records. */
#ifndef WALPIPE_PGOUTPUT_H
#define WALPIPE_PGOUTPUT_H

#include "walpipe/lsn.h"
#include "walpipe/wal2json.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * pgoutput, protocol version 1 (PostgreSQL's proto.c), one message per
 * XLogData.  Integers are big-endian; a String is NUL-terminated.
 *
 *   'B' Int64 final_lsn (the commit record's LSN), Int64 commit time
 *       (microseconds since 2000-01-01 UTC), Int32 xid
 *   'C' Int8 flags (0), Int64 commit_lsn, Int64 end_lsn, Int64 commit time
 *   'O' Int64 origin's commit LSN, String origin name
 *   'R' Int32 relation OID, String schema ("" for pg_catalog), String
 *       name, Int8 replica identity ('d' 'n' 'f' 'i'), Int16 ncols, per
 *       column: Int8 flags (1: part of the replica identity), String name,
 *       Int32 type OID, Int32 typmod
 *   'Y' Int32 type OID, String schema, String name (of the base type for
 *       a domain); sent before 'R' for each non-built-in column type
 *   'I' Int32 relation OID, 'N', TupleData (the new row)
 *   'U' Int32 relation OID, ['K' TupleData (old key) | 'O' TupleData (old
 *       row, REPLICA IDENTITY FULL)], 'N' TupleData (the new row)
 *   'D' Int32 relation OID, 'K' or 'O', TupleData
 *   'T' Int32 nrelations, Int8 flags (1: CASCADE, 2: RESTART IDENTITY),
 *       Int32 relation OID * nrelations
 *   'M' Int8 flags (1: transactional), Int64 LSN, String prefix, Int32
 *       length, Byte * length content
 *   TupleData: Int16 ncols, per column 'n' (null), 'u' (unchanged TOAST
 *       value, not sent) or 't' Int32 length + the value's text output.
 *
 * Each 'R' is sent before the first change of its relation in the
 * stream and again after its schema changes: it replaces the cached one.
 *
 * The change records are those wal2json's decoder makes of the same rows
 * (wal2json.h, with the options walpipe streams wal2json with):
 *   - values of smallint, integer, bigint, oid, real, double precision
 *     and numeric are W2J_NUMBER when their text is a JSON number, else
 *     (NaN, Infinity, -Infinity) W2J_STRING; boolean is W2J_BOOL "true"
 *     or "false"; NULL is W2J_NULL; bytea is W2J_STRING of its hex digits
 *     without "\x"; any other type (domains and arrays included)
 *     W2J_STRING with the type's text output;
 *   - an unchanged TOAST value is an absent column;
 *   - "identity" holds the replica identity columns of the old row ('K'),
 *     the whole old row ('O'), or, for an update that sent no old row,
 *     the identity columns of the new row; "pk" names the identity columns
 *     of the relation (none under REPLICA IDENTITY FULL, where pgoutput
 *     flags every column but wal2json names the primary key);
 *   - a domain's type name is its base type's ('Y' names that one);
 *   - type names are format_type's ("character varying(20)", "integer[]",
 *     "timestamp(3) with time zone"): built-in types from a table here,
 *     others from 'Y' messages or pgo_decoder_set_type;
 *   - the commit time is written in UTC, "2026-11-24 23:26:41.151158+00";
 *   - B's lsn is final_lsn; C's lsn is commit_lsn and its nextlsn end_lsn.
 *     pgoutput's B does not say where the transaction ends, so B's nextlsn
 *     is final_lsn + 1: every position at a record boundary is at or after
 *     it exactly when it is at or after end_lsn (the server's own test of
 *     which transactions a start position skips is commit LSN < start), so
 *     streampos and checkpoints (streampos.h) skip the same transactions,
 *     and it names the transaction as uniquely.
 *   - a 'T' of n relations is n W2J_TRUNCATE records, as from wal2json.
 * 'R', 'Y' and 'O' make no record.  Changes carry no LSN of their own in
 * pgoutput: their lsn is the XLogData's dataStart, which the walsender
 * sets to the change's LSN (wal2json's "lsn").
 */

struct pgo_decoder;

/* Returns a new decoder with an empty relation cache; free with
 * pgo_decoder_free.  Never NULL.  Types are kept (pgo_decoder_keep_types). */
struct pgo_decoder *pgo_decoder_new(void);

/* NULL-safe. */
void pgo_decoder_free(struct pgo_decoder *dec);

/*
 * keep false: columns have type NULL and changes no pk types, as when
 * walpipe streams wal2json without include-types (repl.h).
 */
void pgo_decoder_keep_types(struct pgo_decoder *dec, bool keep);

/*
 * Name the type oid (format_type's name without typmod, e.g. "mood" or
 * "myschema.mood"), for a type no 'Y' message named.  name is copied.
 * A later 'Y' message of the same OID replaces it.
 */
void pgo_decoder_set_type(struct pgo_decoder *dec, uint32_t oid,
						  const char *name);

/*
 * Decode one pgoutput message of len bytes, received in an XLogData
 * whose dataStart was data_start.  Returns the number of change records
 * it makes (0 for R, Y and O; n for a T of n relations; else 1), read
 * each with pgo_decoder_change; or -1 with the reason in errbuf, e.g.
 *   `invalid pgoutput message 'I' at byte 5: relation 16385 was not
 *    described by a Relation message`
 * A failed message leaves the relation cache as it was.  Never logs.
 */
int pgo_decode(struct pgo_decoder *dec, lsn_t data_start, const char *msg,
			   size_t len, char *errbuf, size_t errlen);

/*
 * Change record i (0-based, below what pgo_decode returned) of the last
 * message into *out.  Every pointer in *out points into the decoder and
 * stays valid until the next pgo_decode call on it, or its free.
 */
void pgo_decoder_change(const struct pgo_decoder *dec, size_t i,
						struct w2j_change *out);

/*
 * c, a record of the last message, as one JSON object in wal2json v2's
 * shape (changefmt_json): what staging and Kafka keep of it, as of a
 * wal2json message.  In the decoder's memory, valid as c is; *len gets
 * its length.
 */
const char *pgo_decoder_json(struct pgo_decoder *dec,
							 const struct w2j_change *c, size_t *len);

/* The flags of the last 'T' message (PGO_TRUNCATE_*). */
#define PGO_TRUNCATE_CASCADE 1
#define PGO_TRUNCATE_RESTART_IDENTITY 2
int pgo_decoder_truncate_flags(const struct pgo_decoder *dec);

/* The origin of the last 'O' message, or NULL; valid as for changes. */
const char *pgo_decoder_origin(const struct pgo_decoder *dec);

/*
 * format_type's name of the built-in type oid with typmod (-1: none),
 * e.g. (1043, 24) "character varying(20)", (1007, -1) "integer[]", into
 * out; false (out empty) when oid is not in the table.  Pure.
 */
bool pgo_builtin_type_name(uint32_t oid, int32_t typmod, char *out,
						   size_t outlen);

#endif
