/* pgtext.h: PostgreSQL's text output of interval and hstore, parsed for Debezium's conversions. */
#ifndef WALPIPE_PGTEXT_H
#define WALPIPE_PGTEXT_H

#include "walpipe/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Pure: no I/O, no logging.
 * Every function reads exactly len bytes of its text (no terminator
 * needed) and returns false, leaving out as it was, on text it does
 * not know, so that the caller can send the text as it is.
 */

/*
 * An interval as PostgreSQL's IntervalStyle postgres (the default)
 * writes it, "1 year -2 mons +3 days -04:05:06.78", in the fields
 * PgJDBC's PGInterval reads from it, each with its own sign: the time's
 * sign goes to its hours, minutes and seconds.
 */
struct pgtext_interval {
	int64_t years, months, days, hours, minutes;
	int64_t seconds; /* whole seconds */
	int32_t micros;	 /* the fraction, same sign as seconds */
};

bool pgtext_interval_parse(const char *s, size_t len,
						   struct pgtext_interval *out);

/*
 * Debezium's io.debezium.time.MicroDuration (interval.handling.mode
 * numeric): the approximate microseconds, 365.25 / 12 days a month,
 * computed in double precision and truncated as Debezium's
 * MicroDuration.durationMicros does; saturated at the int64 limits (as
 * Java's cast is).
 */
int64_t pgtext_interval_micros(const struct pgtext_interval *iv);

/*
 * Debezium's io.debezium.time.Interval (interval.handling.mode string):
 * every field, "P1Y2M3DT4H5M6.78S", "P0Y0M0DT0H0M0S"; each field signed
 * on its own ("P0Y0M0DT-4H-5M-6.5S"), seconds without trailing zeros.
 * Appends the JSON string to out.
 */
void pgtext_interval_iso(struct buf *out, const struct pgtext_interval *iv);

/*
 * hstore's text output, "\"a\"=>\"1\", \"b\"=>NULL", appended to out as
 * a JSON object in hstore's order ({"a":"1","b":null}).  Keys and
 * values may be unquoted too (hstore's input syntax).
 */
bool pgtext_hstore_json(struct buf *out, const char *s, size_t len);

#endif
