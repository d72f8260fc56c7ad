/* pgtext.c: PostgreSQL's text output of interval and hstore, parsed for Debezium's conversions. */
#include "walpipe/pgtext.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* Whitespace as PostgreSQL's parsers skip it. */
static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
		   c == '\v';
}

static char
ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char) (c - 'A' + 'a') : c;
}

static const char *
skip_space(const char *p, const char *end)
{
	while (p < end && is_space(*p))
		p++;
	return p;
}

/* Digits into *v (at most 18 of them: no overflow); false if none. */
static bool
read_digits(const char **p, const char *end, int64_t *v, int *ndigits)
{
	int n = 0;

	*v = 0;
	while (*p < end && **p >= '0' && **p <= '9') {
		if (n == 18)
			return false;
		*v = *v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	if (ndigits)
		*ndigits = n;
	return n > 0;
}

/* [-]H:MM:SS[.ffffff], hours of any length (PostgreSQL's time part). */
static bool
read_time(const char **p, const char *end, struct pgtext_interval *iv)
{
	const char *q = *p;
	int sign = 1, nd;
	int64_t h, m, s, f = 0;

	if (q < end && (*q == '-' || *q == '+'))
		sign = *q++ == '-' ? -1 : 1;
	if (!read_digits(&q, end, &h, NULL) || q >= end || *q++ != ':' ||
		!read_digits(&q, end, &m, &nd) || nd != 2 || q >= end ||
		*q++ != ':' || !read_digits(&q, end, &s, &nd) || nd != 2)
		return false;
	if (q < end && *q == '.') {
		q++;
		if (!read_digits(&q, end, &f, &nd) || nd > 6)
			return false;
		while (nd++ < 6)
			f *= 10;
	}
	if (m > 59 || s > 59)
		return false;
	iv->hours = sign * h;
	iv->minutes = sign * m;
	iv->seconds = sign * s;
	iv->micros = (int32_t) (sign * f);
	*p = q;
	return true;
}

bool
pgtext_interval_parse(const char *s, size_t len, struct pgtext_interval *out)
{
	static const struct {
		const char *unit;
		size_t off;
	} units[] = {
		{"years", offsetof(struct pgtext_interval, years)},
		{"year", offsetof(struct pgtext_interval, years)},
		{"mons", offsetof(struct pgtext_interval, months)},
		{"mon", offsetof(struct pgtext_interval, months)},
		{"days", offsetof(struct pgtext_interval, days)},
		{"day", offsetof(struct pgtext_interval, days)},
	};
	const char *p = s, *end = s + len;
	struct pgtext_interval iv;
	unsigned seen = 0;
	bool any = false;

	memset(&iv, 0, sizeof(iv));
	for (p = skip_space(p, end); p < end; p = skip_space(p, end)) {
		const char *word = p;
		int sign = 1;
		int64_t v;
		size_t i, n;

		/* A time part is the last field there is. */
		if (read_time(&p, end, &iv)) {
			if (skip_space(p, end) != end || (seen & 8))
				return false;
			seen |= 8;
			any = true;
			continue;
		}
		p = word;
		if (*p == '-' || *p == '+')
			sign = *p++ == '-' ? -1 : 1;
		if (!read_digits(&p, end, &v, NULL) || p >= end || *p != ' ')
			return false;
		p = skip_space(p, end);
		for (n = 0; p + n < end && !is_space(p[n]); n++)
			;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strlen(units[i].unit) == n &&
				memcmp(units[i].unit, p, n) == 0)
				break;
		/* Each unit once, in order: years, months, days, then time. */
		if (i == sizeof(units) / sizeof(units[0]) || seen >> (i / 2))
			return false;
		seen |= 1u << (i / 2);
		*(int64_t *) ((char *) &iv + units[i].off) = sign * v;
		p += n;
		any = true;
	}
	if (!any)
		return false;
	*out = iv;
	return true;
}

int64_t
pgtext_interval_micros(const struct pgtext_interval *iv)
{
	/* Debezium: MicroDuration.DAYS_PER_MONTH_AVG = 365.25 / 12.0, and
	 * durationMicros's arithmetic, step by step in doubles. */
	double seconds = (double) iv->seconds + (double) iv->micros / 1000000.0;
	double days = (double) (iv->years * 12 + iv->months) * (365.25 / 12.0) +
				  (double) iv->days;
	double secs = (((days * 24 + (double) iv->hours) * 60) +
				   (double) iv->minutes) * 60 +
				  seconds;
	double us = secs * 1e6;

	if (us >= 9223372036854775807.0)
		return INT64_MAX;
	if (us <= -9223372036854775808.0)
		return INT64_MIN;
	return (int64_t) us;
}

void
pgtext_interval_iso(struct buf *out, const struct pgtext_interval *iv)
{
	bool neg = iv->seconds < 0 || iv->micros < 0;
	int64_t whole = iv->seconds < 0 ? -iv->seconds : iv->seconds;
	int32_t frac = iv->micros < 0 ? -iv->micros : iv->micros;
	char digits[8];
	int n;

	buf_appendf(out, "\"P%lldY%lldM%lldDT%lldH%lldM%s%lld",
				(long long) iv->years, (long long) iv->months,
				(long long) iv->days, (long long) iv->hours,
				(long long) iv->minutes, neg ? "-" : "", (long long) whole);
	if (frac) {
		/* BigDecimal's stripTrailingZeros: the fraction's own digits. */
		n = snprintf(digits, sizeof(digits), "%06d", (int) frac);
		while (n > 0 && digits[n - 1] == '0')
			digits[--n] = '\0';
		buf_appendf(out, ".%s", digits);
	}
	buf_append_str(out, "S\"");
}

/* One hstore key or value: "quoted" with backslash escapes, or a bare
 * word up to a separator; *null for a bare NULL. */
static bool
read_hstore_item(const char **p, const char *end, struct buf *tmp, bool *null)
{
	const char *q = *p;

	*null = false;
	tmp->len = 0;
	if (q < end && *q == '"') {
		for (q++; q < end && *q != '"'; q++) {
			if (*q == '\\' && ++q >= end)
				return false;
			buf_append_char(tmp, *q);
		}
		if (q >= end)
			return false;
		*p = q + 1;
		return true;
	}
	while (q < end && !is_space(*q) && *q != ',' && *q != '=' && *q != '"') {
		if (*q == '\\' && ++q >= end)
			return false;
		buf_append_char(tmp, *q++);
	}
	if (q == *p)
		return false;
	*null = q - *p == 4 && ascii_lower((*p)[0]) == 'n' &&
			ascii_lower((*p)[1]) == 'u' && ascii_lower((*p)[2]) == 'l' &&
			ascii_lower((*p)[3]) == 'l';
	*p = q;
	return true;
}

bool
pgtext_hstore_json(struct buf *out, const char *s, size_t len)
{
	const char *p = s, *end = s + len;
	struct buf tmp = BUF_INIT;
	size_t start = out->len;
	bool null, first = true, ok = true;

	buf_append_char(out, '{');
	for (p = skip_space(p, end); p < end && ok; p = skip_space(p, end)) {
		if (!first && *p++ != ',') {
			ok = false;
			break;
		}
		p = skip_space(p, end);
		/* A key is never NULL: hstore's parser takes a bare NULL key as
		 * the text "NULL". */
		ok = read_hstore_item(&p, end, &tmp, &null);
		if (!ok)
			break;
		if (!first)
			buf_append_char(out, ',');
		buf_append_json_string(out, tmp.data ? tmp.data : "", tmp.len);
		p = skip_space(p, end);
		ok = end - p >= 2 && p[0] == '=' && p[1] == '>';
		if (!ok)
			break;
		p = skip_space(p + 2, end);
		ok = read_hstore_item(&p, end, &tmp, &null);
		if (!ok)
			break;
		buf_append_char(out, ':');
		if (null)
			buf_append_str(out, "null");
		else
			buf_append_json_string(out, tmp.data ? tmp.data : "", tmp.len);
		first = false;
	}
	buf_free(&tmp);
	if (!ok) {
		if (out->data)
			out->data[out->len = start] = '\0';
		return false;
	}
	buf_append_char(out, '}');
	return true;
}
