/* lsn.h: PostgreSQL log sequence numbers: parsing, formatting, arithmetic. */
#ifndef WALPIPE_LSN_H
#define WALPIPE_LSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A WAL position, as the server's XLogRecPtr: a byte offset into the WAL
 * stream.  Defined here so that walpipe depends on no server header.
 */
typedef uint64_t lsn_t;

#define LSN_INVALID ((lsn_t) 0)

/* "FFFFFFFF/FFFFFFFF" plus the terminating NUL. */
#define LSN_STRLEN 18

/*
 * Parse the text form "X/Y" (one to eight hex digits on each side, either
 * case, no sign, no spaces, nothing after) into *out.
 *
 * Returns true on success.  On failure returns false, leaves *out
 * untouched and, if errbuf is not NULL, writes a message such as
 * `invalid LSN "12": expected the form X/Y with hexadecimal X and Y`.
 * Does not log.
 */
bool lsn_parse(const char *text, lsn_t *out, char *errbuf, size_t errlen);

/*
 * Format lsn as "X/Y" (upper-case hex, as the server prints it) into buf,
 * which must hold LSN_STRLEN bytes.  Returns buf, so it can be used inside
 * a printf argument list.
 */
char *lsn_format(lsn_t lsn, char buf[LSN_STRLEN]);

#endif
