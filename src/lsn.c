/* lsn.c: PostgreSQL log sequence numbers: parsing, formatting, arithmetic. */
#include "walpipe/lsn.h"

#include <stdio.h>

/* Parse 1..8 hex digits at *p, advancing *p; false if there are none or
 * more than eight. */
static bool
lsn_parse_half(const char **p, uint32_t *out)
{
	uint32_t v = 0;
	int n = 0;

	for (;; (*p)++) {
		char c = **p;
		int d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			break;
		if (++n > 8)
			return false;
		v = (v << 4) | (uint32_t) d;
	}
	*out = v;
	return n > 0;
}

bool
lsn_parse(const char *text, lsn_t *out, char *errbuf, size_t errlen)
{
	const char *p = text;
	uint32_t hi, lo;

	if (text == NULL) {
		if (errbuf)
			snprintf(errbuf, errlen, "invalid LSN: no value");
		return false;
	}
	if (!lsn_parse_half(&p, &hi) || *p++ != '/' || !lsn_parse_half(&p, &lo) ||
		*p != '\0') {
		if (errbuf)
			snprintf(errbuf, errlen,
					 "invalid LSN \"%.40s\": expected the form X/Y with "
					 "hexadecimal X and Y of at most 8 digits each",
					 text);
		return false;
	}
	*out = ((lsn_t) hi << 32) | lo;
	return true;
}

char *
lsn_format(lsn_t lsn, char buf[LSN_STRLEN])
{
	/* "%X/%X" by hand: the pgoutput path formats an LSN per change, and
	 * snprintf was a visible part of its cost. */
	static const char hex[] = "0123456789ABCDEF";
	char *p = buf;

	for (int half = 1; half >= 0; half--) {
		uint32_t v = (uint32_t) (lsn >> (32 * half));
		int shift = 28;

		while (shift > 0 && ((v >> shift) & 0xF) == 0)
			shift -= 4;
		for (; shift >= 0; shift -= 4)
			*p++ = hex[(v >> shift) & 0xF];
		if (half)
			*p++ = '/';
	}
	*p = '\0';
	return buf;
}
