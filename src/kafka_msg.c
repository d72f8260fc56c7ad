/* kafka_msg.c: Kafka message encoding of a change: topic, key, Debezium envelope. */
#include "walpipe/kafka_msg.h"

#include "walpipe/changefmt.h"
#include "walpipe/pgtext.h"

#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* Kafka refuses longer topic names (the broker's TopicNameValidator). */
#define KAFKA_TOPIC_MAX 249

static const char *const placeholders[] = {"{source}", "{schema}", "{table}"};

const char *
kafka_msg_snapshot_marker(bool first_table, bool last_table, bool first_row,
						  bool last_row)
{
	if (last_row && last_table)
		return "last";
	if (first_row && first_table)
		return "first";
	if (last_row)
		return "last_in_data_collection";
	return first_row ? "first_in_data_collection" : "true";
}

bool
kafka_msg_topic_valid(const char *tmpl, char *errbuf, size_t errlen)
{
	for (const char *p = tmpl; *p; p++) {
		size_t i, n;

		if (*p == '}') {
			snprintf(errbuf, errlen,
					 "unmatched \"}\" in topic template \"%s\"", tmpl);
			return false;
		}
		if (*p != '{')
			continue;
		for (i = 0; i < 3; i++)
			if (strncmp(p, placeholders[i], strlen(placeholders[i])) == 0)
				break;
		if (i == 3) {
			n = strcspn(p, "}");
			snprintf(errbuf, errlen,
					 "unknown placeholder \"%.*s%s\" in topic template; "
					 "valid are {source}, {schema} and {table}",
					 (int) (n > 40 ? 40 : n), p, p[n] == '}' ? "}" : "");
			return false;
		}
		p += strlen(placeholders[i]) - 1;
	}
	if (tmpl[0] == '\0') {
		snprintf(errbuf, errlen, "the topic template is empty");
		return false;
	}
	return true;
}

static void
append_topic_text(struct buf *out, const char *s, size_t start)
{
	for (; *s && out->len - start < KAFKA_TOPIC_MAX; s++) {
		char c = *s;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';

		buf_append_char(out, ok ? c : '_');
	}
}

void
kafka_msg_topic(struct buf *out, const char *tmpl, const char *source,
				const char *schema, const char *table)
{
	const char *vals[] = {source, schema, table};
	size_t start = out->len;
	char one[2] = {0, 0};

	for (const char *p = tmpl; *p; p++) {
		size_t i;

		for (i = 0; i < 3 && *p == '{'; i++)
			if (strncmp(p, placeholders[i], strlen(placeholders[i])) == 0)
				break;
		if (*p == '{' && i < 3) {
			append_topic_text(out, vals[i] ? vals[i] : "", start);
			p += strlen(placeholders[i]) - 1;
			continue;
		}
		one[0] = *p;
		append_topic_text(out, one, start);
	}
}

/*
 * Debezium's conversions key on the column's type.  format_type() writes
 * a modifier inside the name ("timestamp(3) with time zone"), so the
 * name is read with the parenthesised part taken out.
 */
enum tclass {
	TC_TEXT = 0, /* and json, uuid, enums: strings */
	TC_INT16,
	TC_INT32,
	TC_INT64,
	TC_FLOAT32,
	TC_FLOAT64,
	TC_BOOL,
	TC_NUMERIC,
	TC_DATE,
	TC_TIME,
	TC_TIMETZ,
	TC_TS,
	TC_TSTZ,
	TC_BYTEA,
	TC_JSON,
	TC_UUID,
	TC_ENUM,
	TC_INTERVAL,
	TC_HSTORE,
};

struct tinfo {
	enum tclass cls;
	bool array;	   /* one-dimensional array of cls */
	int precision; /* numeric's, time's; -1: none given */
	int scale;	   /* numeric's; -1: unconstrained */
	const char *enum_values;
};

static struct tinfo
type_info(const char *type, const char *enum_values)
{
	static const struct {
		const char *name;
		enum tclass cls;
	} names[] = {
		{"smallint", TC_INT16},
		{"integer", TC_INT32},
		{"bigint", TC_INT64},
		{"oid", TC_INT64},
		{"real", TC_FLOAT32},
		{"double precision", TC_FLOAT64},
		{"boolean", TC_BOOL},
		{"numeric", TC_NUMERIC},
		{"date", TC_DATE},
		{"time without time zone", TC_TIME},
		{"time with time zone", TC_TIMETZ},
		{"timestamp without time zone", TC_TS},
		{"timestamp with time zone", TC_TSTZ},
		{"bytea", TC_BYTEA},
		{"json", TC_JSON},
		{"jsonb", TC_JSON},
		{"uuid", TC_UUID},
	};
	struct tinfo t = {TC_TEXT, false, -1, -1, enum_values};
	char base[128], args[32] = "";
	size_t n = 0, len;
	const char *p;

	if (type == NULL)
		return t;
	len = strlen(type);
	if (len >= 2 && strcmp(type + len - 2, "[]") == 0) {
		t.array = true;
		len -= 2;
	}
	for (p = type; p < type + len && n < sizeof(base) - 1; p++) {
		if (*p == '(') {
			size_t a = strcspn(p + 1, ")");

			snprintf(args, sizeof(args), "%.*s", (int) a, p + 1);
			p += a + 1;
			continue;
		}
		base[n++] = *p;
	}
	base[n] = '\0';
	if (enum_values) {
		t.cls = TC_ENUM;
		return t;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(base, names[i].name) == 0)
			t.cls = names[i].cls;
	/* "interval year to month", and hstore wherever its extension is
	 * (format_type qualifies a type outside the search path). */
	if (strncmp(base, "interval", 8) == 0 &&
		(base[8] == '\0' || base[8] == ' '))
		t.cls = TC_INTERVAL;
	if (strcmp(base, "hstore") == 0 ||
		(n > 7 && strcmp(base + n - 7, ".hstore") == 0))
		t.cls = TC_HSTORE;
	if (args[0] && t.cls == TC_NUMERIC) {
		t.precision = atoi(args);
		t.scale = strchr(args, ',') ? atoi(strchr(args, ',') + 1) : 0;
	} else if (args[0]) {
		t.precision = atoi(args);
	}
	return t;
}

/* ---- schemas (JsonConverter's field order: type, items|fields,
 * optional, name, version, parameters, default, field) ---- */

static void
append_type_schema(struct buf *out, const struct tinfo *t, bool optional,
				   const struct kafka_msg_ctx *ctx)
{
	const char *type = "string", *name = NULL;
	bool adaptive = ctx->time == KAFKA_TIME_ADAPTIVE;

	if (t->array) {
		struct tinfo e = *t;

		e.array = false;
		buf_append_str(out, "{\"type\":\"array\",\"items\":");
		append_type_schema(out, &e, true, ctx);
		buf_appendf(out, ",\"optional\":%s}", optional ? "true" : "false");
		return;
	}
	switch (t->cls) {
	case TC_INT16: type = "int16"; break;
	case TC_INT32: type = "int32"; break;
	case TC_INT64: type = "int64"; break;
	case TC_FLOAT32: type = "float"; break;
	case TC_FLOAT64: type = "double"; break;
	case TC_BOOL: type = "boolean"; break;
	case TC_BYTEA: type = "bytes"; break;
	case TC_NUMERIC:
		if (ctx->decimal == KAFKA_DECIMAL_DOUBLE)
			type = "double";
		else if (ctx->decimal == KAFKA_DECIMAL_PRECISE && t->scale < 0) {
			buf_appendf(out,
						"{\"type\":\"struct\",\"fields\":[{\"type\":\"int32\","
						"\"optional\":false,\"field\":\"scale\"},{\"type\":"
						"\"bytes\",\"optional\":false,\"field\":\"value\"}],"
						"\"optional\":%s,\"name\":\"io.debezium.data."
						"VariableScaleDecimal\",\"version\":1,\"doc\":"
						"\"Variable scaled decimal\"}",
						optional ? "true" : "false");
			return;
		} else if (ctx->decimal == KAFKA_DECIMAL_PRECISE) {
			buf_appendf(out,
						"{\"type\":\"bytes\",\"optional\":%s,\"name\":"
						"\"org.apache.kafka.connect.data.Decimal\",\"version\":"
						"1,\"parameters\":{\"scale\":\"%d\","
						"\"connect.decimal.precision\":\"%d\"}}",
						optional ? "true" : "false", t->scale, t->precision);
			return;
		}
		break;
	case TC_DATE:
		type = "int32";
		name = adaptive ? "io.debezium.time.Date"
						: "org.apache.kafka.connect.data.Date";
		break;
	case TC_TIME:
		if (!adaptive) {
			type = "int32";
			name = "org.apache.kafka.connect.data.Time";
		} else if (t->precision >= 0 && t->precision <= 3) {
			type = "int32";
			name = "io.debezium.time.Time";
		} else {
			type = "int64";
			name = "io.debezium.time.MicroTime";
		}
		break;
	case TC_TS:
		type = "int64";
		if (!adaptive)
			name = "org.apache.kafka.connect.data.Timestamp";
		else if (t->precision >= 0 && t->precision <= 3)
			name = "io.debezium.time.Timestamp";
		else
			name = "io.debezium.time.MicroTimestamp";
		break;
	case TC_TSTZ: name = "io.debezium.time.ZonedTimestamp"; break;
	case TC_TIMETZ: name = "io.debezium.time.ZonedTime"; break;
	case TC_JSON: name = "io.debezium.data.Json"; break;
	case TC_UUID: name = "io.debezium.data.Uuid"; break;
	case TC_ENUM: name = "io.debezium.data.Enum"; break;
	case TC_INTERVAL:
		if (ctx->interval == KAFKA_INTERVAL_STRING) {
			name = "io.debezium.time.Interval";
		} else {
			type = "int64";
			name = "io.debezium.time.MicroDuration";
		}
		break;
	case TC_HSTORE:
		if (ctx->hstore == KAFKA_HSTORE_MAP) {
			buf_appendf(out,
						"{\"type\":\"map\",\"keys\":{\"type\":\"string\","
						"\"optional\":false},\"values\":{\"type\":\"string\","
						"\"optional\":true},\"optional\":%s}",
						optional ? "true" : "false");
			return;
		}
		name = "io.debezium.data.Json";
		break;
	case TC_TEXT: break;
	}
	buf_appendf(out, "{\"type\":\"%s\",\"optional\":%s", type,
				optional ? "true" : "false");
	if (name)
		buf_appendf(out, ",\"name\":\"%s\",\"version\":1", name);
	if (t->cls == TC_ENUM) {
		buf_append_str(out, ",\"parameters\":{\"allowed\":");
		buf_append_json_string(out, t->enum_values, strlen(t->enum_values));
		buf_append_char(out, '}');
	}
	buf_append_char(out, '}');
}

/* Close a schema object written by append_type_schema with ,"field":NAME. */
static void
append_field_schema(struct buf *out, const char *type, const char *enums,
					bool optional, const char *field,
					const struct kafka_msg_ctx *ctx)
{
	struct tinfo t = type_info(type, enums);

	append_type_schema(out, &t, optional, ctx);
	out->len--; /* the closing brace */
	buf_append_str(out, ",\"field\":");
	buf_append_json_string(out, field, strlen(field));
	buf_append_char(out, '}');
}

/* ---- value conversions ---- */

void
kafka_msg_base64(struct buf *out, const unsigned char *d, size_t n)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t) d[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t) d[i + 1] << 8;
		if (i + 2 < n)
			v |= d[i + 2];
		buf_append_char(out, tab[(v >> 18) & 63]);
		buf_append_char(out, tab[(v >> 12) & 63]);
		buf_append_char(out, i + 1 < n ? tab[(v >> 6) & 63] : '=');
		buf_append_char(out, i + 2 < n ? tab[v & 63] : '=');
	}
}

/*
 * The decimal text of an integer (optional '-', digits) as Java's
 * BigInteger.toByteArray writes it: big-endian two's complement in the
 * fewest bytes that keep the sign.  The digits are divided by 256 over
 * and over: quadratic, but numerics hold at most 1000 digits.
 */
static size_t
decimal_to_twos(const char *digits, size_t n, bool neg, unsigned char *out,
				size_t cap)
{
	unsigned char dig[1100], le[480];
	size_t nd = 0, nb = 0, len;

	for (size_t i = 0; i < n && nd < sizeof(dig); i++)
		if (digits[i] >= '0' && digits[i] <= '9')
			dig[nd++] = (unsigned char) (digits[i] - '0');
	for (;;) {
		unsigned rem = 0;
		size_t start = 0, k = 0;

		while (start < nd && dig[start] == 0)
			start++;
		if (start == nd || nb == sizeof(le))
			break;
		for (size_t i = start; i < nd; i++) {
			unsigned cur = rem * 10 + dig[i];

			dig[k++] = (unsigned char) (cur / 256);
			rem = cur % 256;
		}
		nd = k;
		le[nb++] = (unsigned char) rem;
	}
	/* le: the magnitude, little-endian.  One byte more for the sign. */
	len = nb + 1;
	if (len > cap)
		len = cap;
	for (size_t i = 0; i < len; i++)
		out[i] = i == 0 ? 0 : le[len - 1 - i];
	if (neg) {
		unsigned carry = 1;

		for (size_t i = len; i-- > 0;) {
			unsigned v = (unsigned) (unsigned char) ~out[i] + carry;

			out[i] = (unsigned char) v;
			carry = v >> 8;
		}
	}
	/* Drop sign bytes the next byte's top bit already says. */
	while (len > 1 && ((out[0] == 0 && !(out[1] & 0x80)) ||
					   (out[0] == 0xff && (out[1] & 0x80)))) {
		memmove(out, out + 1, len - 1);
		len--;
	}
	return len;
}

/* numeric text ("-12.50") as Debezium's precise mode writes it. */
static bool
append_decimal_precise(struct buf *out, const char *v, const struct tinfo *t)
{
	char digits[1100];
	unsigned char bytes[480];
	size_t nd = 0, frac = 0, len;
	bool neg = *v == '-', dot = false;
	int scale;

	if (neg || *v == '+')
		v++;
	for (; *v; v++) {
		if (*v == '.' && !dot)
			dot = true;
		else if (*v >= '0' && *v <= '9' && nd < sizeof(digits) - 40) {
			digits[nd++] = *v;
			frac += dot;
		} else
			return false; /* NaN, Infinity, an exponent */
	}
	scale = t->scale >= 0 ? t->scale : (int) frac;
	/* The server writes numeric(P,S) with exactly S decimals; be safe. */
	while ((int) frac < scale && nd < sizeof(digits) - 1) {
		digits[nd++] = '0';
		frac++;
	}
	while ((int) frac > scale && nd > 0) {
		nd--;
		frac--;
	}
	len = decimal_to_twos(digits, nd, neg, bytes, sizeof(bytes));
	if (t->scale < 0)
		buf_appendf(out, "{\"scale\":%d,\"value\":\"", scale);
	else
		buf_append_char(out, '"');
	kafka_msg_base64(out, bytes, len);
	buf_append_str(out, t->scale < 0 ? "\"}" : "\"");
	return true;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's
 * days_from_civil). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned) (y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t) doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned) (z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t) yoe + era * 400 + (*m <= 2);
}

/* "YYYY-MM-DD" at *p: days since the epoch; advances *p. */
static bool
parse_date(const char **p, int64_t *days)
{
	int y, m, d, n = 0;

	/* PostgreSQL's dates end in 5874897 AD; beyond, no day count in µs
	 * fits an int64 (the timestamps check their own narrower range). */
	if (sscanf(*p, "%d-%d-%d%n", &y, &m, &d, &n) != 3 || m < 1 || m > 12 ||
		d < 1 || d > 31 || y > 5874897 || y < -5874897)
		return false;
	*days = days_from_civil(y, (unsigned) m, (unsigned) d);
	*p += n;
	return true;
}

/* Whether a timestamp's day count fits in int64 µs with room to spare
 * (PostgreSQL's timestamps end in 294276 AD, about 1.07e8 days). */
static bool
ts_days_fit(int64_t days)
{
	return days < INT64_C(106000000) && days > -INT64_C(106000000);
}

/* "HH:MM:SS[.ffffff]" at *p: microseconds of the day; advances *p. */
static bool
parse_time(const char **p, int64_t *us)
{
	int h, mi, sec, n = 0;
	int64_t frac = 0, scale = 1000000;

	if (sscanf(*p, "%d:%d:%d%n", &h, &mi, &sec, &n) != 3)
		return false;
	*p += n;
	if (**p == '.') {
		for ((*p)++; **p >= '0' && **p <= '9'; (*p)++)
			if (scale > 1) {
				scale /= 10;
				frac += (**p - '0') * scale;
			}
	}
	*us = ((int64_t) h * 3600 + mi * 60 + sec) * 1000000 + frac;
	return true;
}

/* "+HH[:MM[:SS]]" or "-..." at *p: seconds east of UTC. */
static bool
parse_offset(const char **p, int64_t *secs)
{
	int sign, h = 0, m = 0, s = 0;

	if (**p != '+' && **p != '-')
		return false;
	sign = **p == '-' ? -1 : 1;
	if (sscanf(*p + 1, "%2d:%2d:%2d", &h, &m, &s) < 1)
		return false;
	*secs = sign * ((int64_t) h * 3600 + m * 60 + s);
	return true;
}

/* Floor division: a time before the epoch rounds down, as Java's does. */
static int64_t
floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* hh:mm:ss[.fraction without trailing zeros], as java.time prints it. */
static void
append_iso_time(struct buf *out, int64_t us)
{
	int64_t frac = us % 1000000, s = us / 1000000;
	int digits = 6;

	buf_appendf(out, "%02d:%02d:%02d", (int) (s / 3600), (int) (s / 60 % 60),
				(int) (s % 60));
	if (frac == 0)
		return;
	while (frac % 10 == 0) {
		frac /= 10;
		digits--;
	}
	buf_appendf(out, ".%0*d", digits, (int) frac);
}

/* A date, time or timestamp value; false if it does not parse. */
static bool
append_temporal(struct buf *out, const char *v, const struct tinfo *t,
				const struct kafka_msg_ctx *ctx)
{
	const char *p = v;
	int64_t days = 0, us = 0, off = 0;
	bool ms = ctx->time == KAFKA_TIME_CONNECT ||
			  (t->precision >= 0 && t->precision <= 3);

	switch (t->cls) {
	case TC_DATE:
		if (!parse_date(&p, &days) || *p)
			return false;
		buf_appendf(out, "%" PRId64, days);
		return true;
	case TC_TIME:
		if (!parse_time(&p, &us) || *p)
			return false;
		buf_appendf(out, "%" PRId64, ms ? us / 1000 : us);
		return true;
	case TC_TS:
		if (!parse_date(&p, &days) || *p++ != ' ' || !parse_time(&p, &us) ||
			*p || !ts_days_fit(days))
			return false;
		us += days * 86400 * INT64_C(1000000);
		buf_appendf(out, "%" PRId64, ms ? floor_div(us, 1000) : us);
		return true;
	case TC_TSTZ: {
		int64_t y;
		unsigned m, d;

		if (!parse_date(&p, &days) || *p++ != ' ' || !parse_time(&p, &us) ||
			!parse_offset(&p, &off) || !ts_days_fit(days))
			return false;
		us += days * 86400 * INT64_C(1000000) - off * 1000000;
		days = floor_div(us, 86400 * INT64_C(1000000));
		us -= days * 86400 * INT64_C(1000000);
		civil_from_days(days, &y, &m, &d);
		if (y < 0 || y > 9999)
			return false;
		buf_appendf(out, "\"%04d-%02u-%02uT", (int) y, m, d);
		append_iso_time(out, us);
		buf_append_str(out, "Z\"");
		return true;
	}
	case TC_TIMETZ:
		if (!parse_time(&p, &us) || !parse_offset(&p, &off))
			return false;
		us -= off * 1000000;
		us = ((us % (86400 * INT64_C(1000000))) + 86400 * INT64_C(1000000)) %
			 (86400 * INT64_C(1000000));
		buf_append_char(out, '"');
		append_iso_time(out, us);
		buf_append_str(out, "Z\"");
		return true;
	default:
		return false;
	}
}

/* bytea in hex as base64: wal2json sends "0aff", the server's text
 * output "\x0aff". */
static bool
append_bytea(struct buf *out, const char *v, size_t len)
{
	struct buf raw = BUF_INIT;
	size_t i = len >= 2 && v[0] == '\\' && v[1] == 'x' ? 2 : 0;

	if (len % 2)
		return false;
	for (; i < len; i += 2) {
		unsigned x;

		if (sscanf(v + i, "%2x", &x) != 1) {
			buf_free(&raw);
			return false;
		}
		buf_append_char(&raw, (char) x);
	}
	buf_append_char(out, '"');
	kafka_msg_base64(out, (const unsigned char *) raw.data, raw.len);
	buf_append_char(out, '"');
	buf_free(&raw);
	return true;
}

/* An interval per interval.handling.mode; false: not PostgreSQL's
 * postgres IntervalStyle (sent as the text). */
static bool
append_interval(struct buf *out, const struct w2j_column *v,
				const struct kafka_msg_ctx *ctx)
{
	struct pgtext_interval iv;

	if (v->kind != W2J_STRING ||
		!pgtext_interval_parse(v->value, v->value_len, &iv))
		return false;
	if (ctx->interval == KAFKA_INTERVAL_STRING)
		pgtext_interval_iso(out, &iv);
	else
		buf_appendf(out, "%lld", (long long) pgtext_interval_micros(&iv));
	return true;
}

/* An hstore per hstore.handling.mode: the map's JSON as a string, or as
 * an object. */
static bool
append_hstore(struct buf *out, const struct w2j_column *v,
			  const struct kafka_msg_ctx *ctx)
{
	struct buf map = BUF_INIT;
	bool ok;

	if (v->kind != W2J_STRING)
		return false;
	if (ctx->hstore == KAFKA_HSTORE_MAP)
		return pgtext_hstore_json(out, v->value, v->value_len);
	ok = pgtext_hstore_json(&map, v->value, v->value_len);
	if (ok)
		buf_append_json_string(out, map.data, map.len);
	buf_free(&map);
	return ok;
}

static void append_scalar(struct buf *out, const struct tinfo *t,
						  const struct w2j_column *v,
						  const struct kafka_msg_ctx *ctx);

/*
 * A one-dimensional array literal ("{1,NULL,\"a b\"}") as a JSON array of
 * its converted elements; false for anything else (several dimensions,
 * bounds), which then goes as text.
 */
static bool
append_array(struct buf *out, const struct tinfo *t, const char *v,
			 const struct kafka_msg_ctx *ctx)
{
	struct tinfo e = *t;
	struct buf el = BUF_INIT;
	size_t start = out->len;
	const char *p = v;
	bool first = true, ok = true;

	e.array = false;
	if (*p++ != '{' || *p == '{')
		return false;
	buf_append_char(out, '[');
	while (ok && *p && *p != '}') {
		struct w2j_column col = {0};
		bool quoted = *p == '"';

		buf_reset(&el, 0);
		if (quoted) {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				buf_append_char(&el, *p);
			}
			ok = *p == '"';
			if (ok)
				p++;
		} else {
			for (; *p && *p != ',' && *p != '}'; p++)
				buf_append_char(&el, *p);
		}
		if (!el.data)
			buf_append_str(&el, "");
		col.value = el.data;
		col.value_len = el.len;
		if (!quoted && strcmp(el.data, "NULL") == 0) {
			col.kind = W2J_NULL;
			col.value = NULL;
		} else if (e.cls >= TC_INT16 && e.cls <= TC_FLOAT64 &&
				   (el.data[0] == '-' || (el.data[0] >= '0' && el.data[0] <= '9')))
			col.kind = W2J_NUMBER;
		else if (e.cls == TC_BOOL && !quoted)
			col.kind = W2J_BOOL, col.value = el.data[0] == 't' ? "true" : "false",
			col.value_len = strlen(col.value);
		else
			col.kind = W2J_STRING;
		if (!first)
			buf_append_char(out, ',');
		first = false;
		append_scalar(out, &e, &col, ctx);
		if (*p == ',')
			p++;
	}
	buf_free(&el);
	if (!ok || *p != '}' || p[1]) {
		out->len = start;
		out->data[start] = '\0';
		return false;
	}
	buf_append_char(out, ']');
	return true;
}

static void
append_scalar(struct buf *out, const struct tinfo *t,
			  const struct w2j_column *v, const struct kafka_msg_ctx *ctx)
{
	size_t start = out->len;
	bool done = false;

	if (v->kind == W2J_NULL) {
		buf_append_str(out, "null");
		return;
	}
	switch (t->cls) {
	case TC_NUMERIC:
		if (ctx->decimal == KAFKA_DECIMAL_STRING) {
			buf_append_json_string(out, v->value, v->value_len);
			done = true;
		} else if (ctx->decimal == KAFKA_DECIMAL_PRECISE) {
			done = append_decimal_precise(out, v->value, t);
			/* NaN and the infinities have no precise form: Debezium
			 * writes null.  A number too long for the conversion (over
			 * 1000 digits, only unconstrained numerics) goes as text. */
			if (!done && v->kind == W2J_STRING) {
				if (out->data)
					out->data[out->len = start] = '\0';
				buf_append_str(out, "null");
				done = true;
			}
		}
		break;
	case TC_DATE:
	case TC_TIME:
	case TC_TIMETZ:
	case TC_TS:
	case TC_TSTZ:
		done = append_temporal(out, v->value, t, ctx);
		break;
	case TC_BYTEA:
		done = append_bytea(out, v->value, v->value_len);
		break;
	case TC_INTERVAL:
		done = append_interval(out, v, ctx);
		break;
	case TC_HSTORE:
		done = append_hstore(out, v, ctx);
		break;
	default:
		break;
	}
	if (!done) {
		if (out->data)
			out->data[out->len = start] = '\0';
		changefmt_value(out, v);
	}
}

void
kafka_msg_value(struct buf *out, const char *type, const struct w2j_column *v,
				const struct kafka_msg_ctx *ctx)
{
	struct tinfo t = type_info(type, NULL);

	if (type == NULL) {
		changefmt_value(out, v);
		return;
	}
	if (t.array && v->kind == W2J_STRING && append_array(out, &t, v->value, ctx))
		return;
	append_scalar(out, &t, v, ctx);
}

/* The catalog's column called name, or NULL. */
static const struct kafka_column *
table_column(const struct kafka_table *tab, const char *name, size_t hint)
{
	if (tab == NULL)
		return NULL;
	if (hint < tab->ncols && strcmp(tab->cols[hint].name, name) == 0)
		return &tab->cols[hint];
	for (size_t i = 0; i < tab->ncols; i++)
		if (strcmp(tab->cols[i].name, name) == 0)
			return &tab->cols[i];
	return NULL;
}

/* One column's value: typed by the catalog, else by wal2json's name. */
static void
append_column_value(struct buf *out, const struct w2j_column *v,
					const struct kafka_column *tc,
					const struct kafka_msg_ctx *ctx)
{
	struct tinfo t;

	if (ctx == NULL || (tc == NULL && v->type == NULL)) {
		changefmt_value(out, v);
		return;
	}
	t = tc ? type_info(tc->type, tc->enum_values) : type_info(v->type, NULL);
	if (t.array && v->kind == W2J_STRING &&
		append_array(out, &t, v->value, ctx))
		return;
	append_scalar(out, &t, v, ctx);
}

bool
kafka_msg_key(struct buf *out, const struct w2j_change *c,
			  const struct kafka_msg_ctx *ctx)
{
	size_t start = out->len;
	const struct kafka_table *tab = ctx ? ctx->table : NULL;

	if (c->npk == 0 || c->action == W2J_TRUNCATE)
		return false;
	if (ctx && ctx->schemas) {
		buf_append_str(out, "{\"schema\":{\"type\":\"struct\",\"fields\":[");
		for (size_t i = 0; i < c->npk; i++) {
			const struct kafka_column *tc =
				table_column(tab, c->pk[i].name, i);

			if (i > 0)
				buf_append_char(out, ',');
			append_field_schema(out, tc ? tc->type : c->pk[i].type,
								tc ? tc->enum_values : NULL, false,
								c->pk[i].name, ctx);
		}
		buf_append_str(out, "],\"optional\":false,\"name\":");
		buf_appendf(out, "\"%s.Key\"},\"payload\":", ctx->topic ? ctx->topic : "");
	}
	buf_append_char(out, '{');
	for (size_t i = 0; i < c->npk; i++) {
		const struct w2j_column *v = NULL;

		if (c->action != W2J_DELETE)
			v = w2j_find_column(c->columns, c->ncolumns, c->pk[i].name);
		if (v == NULL)
			v = w2j_find_column(c->identity, c->nidentity, c->pk[i].name);
		if (v == NULL) {
			/* A key column in neither row: no usable key. */
			out->len = start;
			if (out->data)
				out->data[start] = '\0';
			return false;
		}
		if (i > 0)
			buf_append_char(out, ',');
		buf_append_json_string(out, c->pk[i].name, c->pk[i].name_len);
		buf_append_char(out, ':');
		append_column_value(out, v, table_column(tab, c->pk[i].name, i),
							ctx);
	}
	buf_append_char(out, '}');
	if (ctx && ctx->schemas)
		buf_append_char(out, '}');
	return true;
}

/*
 * A row.  With the catalog and a placeholder (an update's new row), the
 * table's columns in order, an absent one (an unchanged TOASTed value)
 * as the placeholder; then any column the catalog does not know yet.
 */
static void
append_row(struct buf *out, const struct w2j_column *cols, size_t n,
		   const struct kafka_msg_ctx *ctx, bool fill)
{
	const struct kafka_table *tab = ctx ? ctx->table : NULL;
	bool first = true;

	buf_append_char(out, '{');
	if (fill && tab && ctx->unavailable) {
		for (size_t i = 0; i < tab->ncols; i++) {
			const struct kafka_column *tc = &tab->cols[i];
			const struct w2j_column *v =
				i < n && strcmp(cols[i].name, tc->name) == 0
					? &cols[i]
					: w2j_find_column(cols, n, tc->name);

			if (!first)
				buf_append_char(out, ',');
			first = false;
			buf_append_json_string(out, tc->name, strlen(tc->name));
			buf_append_char(out, ':');
			if (v)
				append_column_value(out, v, tc, ctx);
			else {
				struct tinfo t = type_info(tc->type, tc->enum_values);

				/* Debezium's placeholder takes the column's form:
				 * bytes for bytea, one element for an array. */
				if (t.array)
					buf_append_char(out, '[');
				if (t.cls == TC_BYTEA && !t.array) {
					buf_append_char(out, '"');
					kafka_msg_base64(out,
									 (const unsigned char *) ctx->unavailable,
									 strlen(ctx->unavailable));
					buf_append_char(out, '"');
				} else
					buf_append_json_string(out, ctx->unavailable,
										   strlen(ctx->unavailable));
				if (t.array)
					buf_append_char(out, ']');
			}
		}
		for (size_t i = 0; i < n; i++) {
			if (table_column(tab, cols[i].name, i))
				continue;
			buf_append_char(out, ',');
			buf_append_json_string(out, cols[i].name, cols[i].name_len);
			buf_append_char(out, ':');
			append_column_value(out, &cols[i], NULL, ctx);
		}
		buf_append_char(out, '}');
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_append_char(out, ',');
		buf_append_json_string(out, cols[i].name, cols[i].name_len);
		buf_append_char(out, ':');
		append_column_value(out, &cols[i], table_column(tab, cols[i].name, i),
							ctx);
	}
	buf_append_char(out, '}');
}

char
kafka_msg_op(const struct w2j_change *c)
{
	switch (c->action) {
	case W2J_INSERT:
		return 'c';
	case W2J_UPDATE:
		return 'u';
	case W2J_DELETE:
		return 'd';
	case W2J_TRUNCATE:
		return 't';
	default:
		return '?';
	}
}

/* The Value struct schema of a row: the catalog's columns, else the
 * change's own with wal2json's types. */
static void
append_row_schema(struct buf *out, const struct w2j_change *c,
				  const struct kafka_msg_ctx *ctx, const char *field)
{
	const struct kafka_table *tab = ctx->table;

	buf_append_str(out, "{\"type\":\"struct\",\"fields\":[");
	if (tab) {
		for (size_t i = 0; i < tab->ncols; i++) {
			if (i > 0)
				buf_append_char(out, ',');
			append_field_schema(out, tab->cols[i].type,
								tab->cols[i].enum_values,
								tab->cols[i].optional, tab->cols[i].name, ctx);
		}
	} else {
		const struct w2j_column *cols = c->ncolumns ? c->columns : c->identity;
		size_t n = c->ncolumns ? c->ncolumns : c->nidentity;

		for (size_t i = 0; i < n; i++) {
			if (i > 0)
				buf_append_char(out, ',');
			append_field_schema(out, cols[i].type, NULL, true, cols[i].name,
								ctx);
		}
	}
	buf_appendf(out, "],\"optional\":true,\"name\":\"%s.Value\",\"field\":\"%s\"}",
				ctx->topic ? ctx->topic : "", field);
}

/* io.debezium.connector.postgresql.Source, as Debezium 2 writes it. */
static const char source_schema[] =
	"{\"type\":\"struct\",\"fields\":["
	"{\"type\":\"string\",\"optional\":false,\"field\":\"version\"},"
	"{\"type\":\"string\",\"optional\":false,\"field\":\"connector\"},"
	"{\"type\":\"string\",\"optional\":false,\"field\":\"name\"},"
	"{\"type\":\"int64\",\"optional\":false,\"field\":\"ts_ms\"},"
	"{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.data."
	"Enum\",\"version\":1,\"parameters\":{\"allowed\":\"true,first,"
	"first_in_data_collection,last_in_data_collection,last,false,"
	"incremental\"},\"default\":\"false\",\"field\":\"snapshot\"},"
	"{\"type\":\"string\",\"optional\":false,\"field\":\"db\"},"
	"{\"type\":\"string\",\"optional\":true,\"field\":\"sequence\"},"
	"{\"type\":\"string\",\"optional\":false,\"field\":\"schema\"},"
	"{\"type\":\"string\",\"optional\":false,\"field\":\"table\"},"
	"{\"type\":\"int64\",\"optional\":true,\"field\":\"txId\"},"
	"{\"type\":\"int64\",\"optional\":true,\"field\":\"lsn\"},"
	"{\"type\":\"int64\",\"optional\":true,\"field\":\"xmin\"}],"
	"\"optional\":false,\"name\":\"io.debezium.connector.postgresql."
	"Source\",\"field\":\"source\"}";

/* Debezium 2's envelope: before, after, source, op, ts_ms, transaction
 * (event.block). */
static void
append_envelope_schema(struct buf *out, const struct w2j_change *c,
					   const struct kafka_msg_ctx *ctx)
{
	buf_append_str(out, "{\"type\":\"struct\",\"fields\":[");
	append_row_schema(out, c, ctx, "before");
	buf_append_char(out, ',');
	append_row_schema(out, c, ctx, "after");
	buf_append_char(out, ',');
	buf_append_str(out, source_schema);
	buf_append_str(
		out,
		",{\"type\":\"string\",\"optional\":false,\"field\":\"op\"},"
		"{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ms\"},"
		"{\"type\":\"struct\",\"fields\":["
		"{\"type\":\"string\",\"optional\":false,\"field\":\"id\"},"
		"{\"type\":\"int64\",\"optional\":false,\"field\":\"total_order\"},"
		"{\"type\":\"int64\",\"optional\":false,\"field\":"
		"\"data_collection_order\"}],\"optional\":true,\"name\":\"event."
		"block\",\"version\":1,\"field\":\"transaction\"}],"
		"\"optional\":false,\"name\":");
	buf_appendf(out, "\"%s.Envelope\",\"version\":1}",
				ctx->topic ? ctx->topic : "");
}

/* The source block: where and when the change happened.  A message
 * outside a transaction has no txId. */
static void
append_source(struct buf *out, const struct w2j_change *c,
			  const struct kafka_msg_ctx *ctx, const char *schema,
			  const char *table)
{
	const char *db = ctx->db ? ctx->db : "";

	buf_append_str(out, "{\"version\":\"walpipe\","
						"\"connector\":\"postgresql\",\"name\":");
	buf_append_json_string(out, ctx->source ? ctx->source : "",
						   ctx->source ? strlen(ctx->source) : 0);
	if (ctx->commit_ms >= 0)
		buf_appendf(out, ",\"ts_ms\":%" PRId64, ctx->commit_ms);
	else
		buf_append_str(out, ",\"ts_ms\":null");
	buf_appendf(out, ",\"snapshot\":\"%s\",\"db\":",
				ctx->snapshot ? ctx->snapshot : "false");
	buf_append_json_string(out, db, strlen(db));
	buf_appendf(out, ",\"sequence\":\"[null,\\\"%" PRIu64 "\\\"]\",\"schema\":",
				(uint64_t) c->lsn);
	buf_append_json_string(out, schema, strlen(schema));
	buf_append_str(out, ",\"table\":");
	buf_append_json_string(out, table, strlen(table));
	if (c->xid)
		buf_appendf(out, ",\"txId\":%" PRIu32, c->xid);
	else
		buf_append_str(out, ",\"txId\":null");
	buf_appendf(out, ",\"lsn\":%" PRIu64 ",\"xmin\":null}", (uint64_t) c->lsn);
}

/*
 * wal2json sends an update's identity even when the key did not change;
 * Debezium's before is then null (REPLICA IDENTITY DEFAULT logs no old
 * row).  Only an identity that says more (FULL, a changed key) is kept.
 */
static bool
identity_says_more(const struct w2j_change *c)
{
	if (c->action != W2J_UPDATE)
		return c->nidentity > 0;
	for (size_t i = 0; i < c->nidentity; i++) {
		const struct w2j_column *o = &c->identity[i];
		const struct w2j_column *n =
			w2j_find_column(c->columns, c->ncolumns, o->name);
		bool key = false;

		for (size_t j = 0; j < c->npk && !key; j++)
			key = strcmp(c->pk[j].name, o->name) == 0;
		if (!key || n == NULL || n->kind != o->kind ||
			n->value_len != o->value_len ||
			(o->value && memcmp(n->value, o->value, o->value_len) != 0))
			return true;
	}
	return false;
}

void
kafka_msg_debezium(struct buf *out, const struct w2j_change *c,
				   const struct kafka_msg_ctx *ctx)
{
	const char *schema = c->schema ? c->schema : "";
	const char *table = c->table ? c->table : "";
	char op = ctx->op ? ctx->op : kafka_msg_op(c);

	if (ctx->schemas) {
		buf_append_str(out, "{\"schema\":");
		append_envelope_schema(out, c, ctx);
		buf_append_str(out, ",\"payload\":");
	}
	buf_append_str(out, "{\"before\":");
	if ((c->action == W2J_UPDATE || c->action == W2J_DELETE) &&
		identity_says_more(c))
		append_row(out, c->identity, c->nidentity, ctx, false);
	else
		buf_append_str(out, "null");
	buf_append_str(out, ",\"after\":");
	if (c->action == W2J_INSERT || c->action == W2J_UPDATE)
		append_row(out, c->columns, c->ncolumns, ctx,
				   c->action == W2J_UPDATE);
	else
		buf_append_str(out, "null");
	buf_append_str(out, ",\"source\":");
	append_source(out, c, ctx, schema, table);
	buf_appendf(out, ",\"op\":\"%c\",\"ts_ms\":%" PRId64 ",\"transaction\":",
				op, ctx->now_ms);
	if (ctx->txn) {
		buf_append_str(out, "{\"id\":");
		buf_append_json_string(out, ctx->txn->id, strlen(ctx->txn->id));
		buf_appendf(out,
					",\"total_order\":%" PRIu64
					",\"data_collection_order\":%" PRIu64 "}",
					ctx->txn->total_order, ctx->txn->data_collection_order);
	} else
		buf_append_str(out, "null");
	buf_append_char(out, '}');
	if (ctx->schemas)
		buf_append_char(out, '}');
}

void
kafka_msg_message_key(struct buf *out, const struct w2j_change *c,
					  const struct kafka_msg_ctx *ctx)
{
	const char *prefix = c->prefix ? c->prefix : "";

	if (ctx->schemas)
		buf_append_str(out,
					   "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":"
					   "\"string\",\"optional\":true,\"field\":\"prefix\"}],"
					   "\"optional\":false,\"name\":\"io.debezium.connector."
					   "postgresql.MessageKey\"},\"payload\":");
	buf_append_str(out, "{\"prefix\":");
	buf_append_json_string(out, prefix, strlen(prefix));
	buf_append_char(out, '}');
	if (ctx->schemas)
		buf_append_char(out, '}');
}

void
kafka_msg_message(struct buf *out, const struct w2j_change *c,
				  const struct kafka_msg_ctx *ctx)
{
	const char *prefix = c->prefix ? c->prefix : "";

	if (ctx->schemas) {
		buf_append_str(
			out,
			"{\"schema\":{\"type\":\"struct\",\"fields\":["
			"{\"type\":\"string\",\"optional\":false,\"field\":\"op\"},"
			"{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ms\"},");
		buf_append_str(out, source_schema);
		buf_append_str(
			out,
			",{\"type\":\"struct\",\"fields\":["
			"{\"type\":\"string\",\"optional\":false,\"field\":\"prefix\"},"
			"{\"type\":\"bytes\",\"optional\":true,\"field\":\"content\"}],"
			"\"optional\":false,\"name\":\"io.debezium.connector.postgresql."
			"Message\",\"field\":\"message\"}],\"optional\":false,\"name\":"
			"\"io.debezium.connector.postgresql.MessageValue\"},\"payload\":");
	}
	buf_appendf(out, "{\"op\":\"m\",\"ts_ms\":%" PRId64 ",\"source\":",
				ctx->now_ms);
	append_source(out, c, ctx, "", "");
	buf_append_str(out, ",\"message\":{\"prefix\":");
	buf_append_json_string(out, prefix, strlen(prefix));
	buf_append_str(out, ",\"content\":\"");
	kafka_msg_base64(out, (const unsigned char *) (c->content ? c->content : ""),
					 c->content ? c->content_len : 0);
	buf_append_str(out, "\"}}");
	if (ctx->schemas)
		buf_append_char(out, '}');
}

void
kafka_msg_txn_key(struct buf *out, const char *id, bool schemas)
{
	if (schemas)
		buf_append_str(out,
					   "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":"
					   "\"string\",\"optional\":false,\"field\":\"id\"}],"
					   "\"optional\":false,\"name\":\"io.debezium.connector."
					   "common.TransactionMetadataKey\"},\"payload\":");
	buf_append_str(out, "{\"id\":");
	buf_append_json_string(out, id, strlen(id));
	buf_append_char(out, '}');
	if (schemas)
		buf_append_char(out, '}');
}

void
kafka_msg_txn_event(struct buf *out, const struct kafka_txn_event *e,
					bool schemas)
{
	if (schemas)
		buf_append_str(
			out,
			"{\"schema\":{\"type\":\"struct\",\"fields\":["
			"{\"type\":\"string\",\"optional\":false,\"field\":\"status\"},"
			"{\"type\":\"string\",\"optional\":false,\"field\":\"id\"},"
			"{\"type\":\"int64\",\"optional\":true,\"field\":\"event_count\"},"
			"{\"type\":\"array\",\"items\":{\"type\":\"struct\",\"fields\":["
			"{\"type\":\"string\",\"optional\":false,\"field\":"
			"\"data_collection\"},{\"type\":\"int64\",\"optional\":false,"
			"\"field\":\"event_count\"}],\"optional\":false},\"optional\":true,"
			"\"field\":\"data_collections\"},"
			"{\"type\":\"int64\",\"optional\":false,\"field\":\"ts_ms\"}],"
			"\"optional\":false,\"name\":\"io.debezium.connector.common."
			"TransactionMetadataValue\"},\"payload\":");
	buf_appendf(out, "{\"status\":\"%s\",\"id\":", e->end ? "END" : "BEGIN");
	buf_append_json_string(out, e->id, strlen(e->id));
	if (!e->end)
		buf_append_str(out, ",\"event_count\":null,\"data_collections\":null");
	else {
		buf_appendf(out, ",\"event_count\":%" PRIu64 ",\"data_collections\":[",
					e->event_count);
		for (size_t i = 0; i < e->ncollections; i++) {
			buf_append_str(out, i ? ",{\"data_collection\":"
								  : "{\"data_collection\":");
			buf_append_json_string(out, e->collections[i],
								   strlen(e->collections[i]));
			buf_appendf(out, ",\"event_count\":%" PRIu64 "}", e->counts[i]);
		}
		buf_append_char(out, ']');
	}
	buf_appendf(out, ",\"ts_ms\":%" PRId64 "}", e->ts_ms);
	if (schemas)
		buf_append_char(out, '}');
}
