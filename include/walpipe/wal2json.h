/* wal2json.h: decoder of wal2json format-version 2 messages into change records. */
#ifndef WALPIPE_WAL2JSON_H
#define WALPIPE_WAL2JSON_H

#include "walpipe/lsn.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One wal2json v2 message is one JSON object on one line, e.g. (with
 * include-xids, include-timestamp, include-lsn, include-pk, include-types):
 *
 *   {"action":"B","xid":726,"timestamp":"2026-11-24 23:26:41.151158+00",
 *    "lsn":"0/1924850","nextlsn":"0/1924880"}
 *   {"action":"I","xid":726,"timestamp":"...","lsn":"0/19246C0",
 *    "schema":"public","table":"t",
 *    "columns":[{"name":"id","type":"integer","value":1}, ...],
 *    "pk":[{"name":"id","type":"integer"}]}
 *   {"action":"U", ... "columns":[...],"identity":[...]}
 *   {"action":"D", ... "identity":[...]}
 *   {"action":"T", ... "schema":"public","table":"t"}   one per table
 *   {"action":"M","xid":729,...,"lsn":"0/19256E0","transactional":true,
 *    "prefix":"pfx","content":"hello"}
 *   {"action":"C","xid":726,...,"lsn":"0/1924850","nextlsn":"0/1924880"}
 *
 * B and C both carry the commit record's LSN ("lsn") and the end of the
 * transaction ("nextlsn"), because wal2json decodes at commit time.  A
 * non-transactional message arrives outside B/C, without xid.
 */

enum w2j_action {
	W2J_BEGIN = 'B',
	W2J_COMMIT = 'C',
	W2J_INSERT = 'I',
	W2J_UPDATE = 'U',
	W2J_DELETE = 'D',
	W2J_TRUNCATE = 'T',
	W2J_MESSAGE = 'M',
};

/*
 * The kind of JSON token a value was: strings are unescaped (UTF-8), the
 * others keep the exact text the server sent ("1.50", "true"), so a
 * numeric of any size or precision passes through unchanged.
 */
enum w2j_kind {
	W2J_NULL = 0,
	W2J_STRING,
	W2J_NUMBER,
	W2J_BOOL,
};

/* A column of "columns", "identity" or "pk" (pk has no value). */
struct w2j_column {
	const char *name; /* NUL-terminated, unescaped */
	size_t name_len;
	const char *type; /* NULL if include-types was off */
	size_t type_len;
	const char *value; /* NULL iff kind == W2J_NULL; NUL-terminated */
	size_t value_len;  /* bytes, may contain NUL for strings with \u0000 */
	enum w2j_kind kind;
};

struct w2j_change {
	enum w2j_action action;
	uint32_t xid;		   /* 0 if absent (non-transactional message) */
	const char *timestamp; /* commit time text, NULL if absent */
	lsn_t lsn;			   /* "lsn": change LSN; B/C: commit LSN */
	lsn_t nextlsn;		   /* "nextlsn" of B/C: end of the transaction */
	const char *schema;	   /* I/U/D/T; NULL otherwise */
	const char *table;
	struct w2j_column *columns; /* I/U: the new row (TOAST-unchanged absent) */
	size_t ncolumns;
	struct w2j_column *identity; /* U/D: old key or old row */
	size_t nidentity;
	struct w2j_column *pk; /* include-pk: primary key names and types */
	size_t npk;
	bool transactional; /* M */
	const char *prefix; /* M */
	const char *content; /* M, unescaped */
	size_t content_len;
};

struct w2j_decoder;

/* Returns a new decoder; free with w2j_decoder_free. Never NULL. */
struct w2j_decoder *w2j_decoder_new(void);

/* NULL-safe. */
void w2j_decoder_free(struct w2j_decoder *dec);

/*
 * The stream was started with numeric-data-types-as-string and
 * include-types (repl.h): a string value of a column typed smallint,
 * integer, bigint, oid, real, double precision or numeric that is a JSON
 * number is decoded as W2J_NUMBER, as without the option; "NaN",
 * "Infinity" and "-Infinity" stay W2J_STRING.  Unless keep_types, the
 * type names (asked for only this) are then dropped: columns have type
 * NULL, as when include-types is off.  Off by default.
 */
void w2j_decoder_numbers_as_strings(struct w2j_decoder *dec, bool on,
									bool keep_types);

/* The column called name among cols[0..n), or NULL.  Pure. */
const struct w2j_column *w2j_find_column(const struct w2j_column *cols,
										 size_t n, const char *name);

/* The length of the JSON number at the start of s[0..n), 0 if there is
 * none (JSON's grammar: no NaN, no leading '+' or zeros).  Pure. */
size_t w2j_number_len(const char *s, size_t n);

/*
 * Decode one message of len bytes (need not be NUL-terminated) into *out.
 *
 * Every pointer in *out points into the decoder's scratch memory and stays
 * valid until the next w2j_decode call on the same decoder or its free;
 * scratch memory is reused, and shrunk after an unusually large message,
 * so it never grows for the life of the process.
 *
 * Returns true on success.  On malformed or truncated input, or a message
 * that is valid JSON but not a wal2json v2 message (no "action", unknown
 * action, wrong type of a field), returns false and writes a message that
 * names the byte offset, e.g.
 *   `invalid wal2json message at byte 17: expected ':' after object key`
 * into errbuf.  Never logs.
 */
bool w2j_decode(struct w2j_decoder *dec, const char *json, size_t len,
				struct w2j_change *out, char *errbuf, size_t errlen);

#endif
