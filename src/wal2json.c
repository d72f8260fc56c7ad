/* wal2json.c: decoder of wal2json format-version 2 messages into change records. */
#include "walpipe/wal2json.h"

#include "walpipe/buf.h"
#include "walpipe/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Scratch memory kept between messages; more is released afterwards. */
#define W2J_KEEP_BYTES (1u << 20)
#define W2J_KEEP_COLS 4096
#define W2J_MAX_DEPTH 64

struct colvec {
	struct w2j_column *v;
	size_t n, cap;
};

struct w2j_decoder {
	struct buf text; /* unescaped strings and literal texts, NUL-separated */
	struct colvec columns, identity, pk;
	/* Per-message parser state. */
	const char *in;
	size_t len, pos;
	char *errbuf;
	size_t errlen;
	bool numbers_as_strings; /* w2j_decoder_numbers_as_strings */
	bool drop_types;
};

struct w2j_decoder *
w2j_decoder_new(void)
{
	return wp_calloc(1, sizeof(struct w2j_decoder));
}

void
w2j_decoder_numbers_as_strings(struct w2j_decoder *dec, bool on,
							   bool keep_types)
{
	dec->numbers_as_strings = on;
	dec->drop_types = on && !keep_types;
}

static void
colvec_free(struct colvec *cv)
{
	free(cv->v);
	cv->v = NULL;
	cv->n = cv->cap = 0;
}

const struct w2j_column *
w2j_find_column(const struct w2j_column *cols, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(cols[i].name, name) == 0)
			return &cols[i];
	return NULL;
}

void
w2j_decoder_free(struct w2j_decoder *dec)
{
	if (dec == NULL)
		return;
	buf_free(&dec->text);
	colvec_free(&dec->columns);
	colvec_free(&dec->identity);
	colvec_free(&dec->pk);
	free(dec);
}

static bool
fail(struct w2j_decoder *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static bool
fail(struct w2j_decoder *d, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (d->errbuf == NULL || d->errlen == 0)
		return false;
	n = snprintf(d->errbuf, d->errlen, "invalid wal2json message at byte %zu: ",
				 d->pos);
	if (n >= 0 && (size_t) n < d->errlen) {
		va_start(ap, fmt);
		vsnprintf(d->errbuf + n, d->errlen - (size_t) n, fmt, ap);
		va_end(ap);
	}
	return false;
}

static void
skip_ws(struct w2j_decoder *d)
{
	while (d->pos < d->len) {
		char c = d->in[d->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		d->pos++;
	}
}

/* Expect character c (after whitespace). */
static bool
expect(struct w2j_decoder *d, char c, const char *what)
{
	skip_ws(d);
	if (d->pos >= d->len)
		return fail(d, "unexpected end of input, expected %s", what);
	if (d->in[d->pos] != c)
		return fail(d, "expected %s", what);
	d->pos++;
	return true;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool
read_hex4(struct w2j_decoder *d, unsigned *out)
{
	unsigned v = 0;

	if (d->len - d->pos < 4) {
		d->pos = d->len;
		return fail(d, "unexpected end of input in a \\u escape");
	}
	for (int i = 0; i < 4; i++) {
		int h = hexval(d->in[d->pos]);

		if (h < 0)
			return fail(d, "invalid hexadecimal digit in a \\u escape");
		v = (v << 4) | (unsigned) h;
		d->pos++;
	}
	*out = v;
	return true;
}

static void
put_utf8(struct buf *b, unsigned cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char) cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char) (0xC0 | (cp >> 6));
		u[1] = (char) (0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char) (0xE0 | (cp >> 12));
		u[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char) (0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char) (0xF0 | (cp >> 18));
		u[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char) (0x80 | (cp & 0x3F));
		n = 4;
	}
	buf_append(b, u, n);
}

/* Bytes that end a run of plain string characters: '"', '\\' and the
 * control characters JSON forbids unescaped. */
static const bool string_stop[256] = {
	[0x00] = true, [0x01] = true, [0x02] = true, [0x03] = true,
	[0x04] = true, [0x05] = true, [0x06] = true, [0x07] = true,
	[0x08] = true, [0x09] = true, [0x0a] = true, [0x0b] = true,
	[0x0c] = true, [0x0d] = true, [0x0e] = true, [0x0f] = true,
	[0x10] = true, [0x11] = true, [0x12] = true, [0x13] = true,
	[0x14] = true, [0x15] = true, [0x16] = true, [0x17] = true,
	[0x18] = true, [0x19] = true, [0x1a] = true, [0x1b] = true,
	[0x1c] = true, [0x1d] = true, [0x1e] = true, [0x1f] = true,
	['"'] = true, ['\\'] = true,
};

/*
 * Parse a JSON string at the current position (the opening quote) into
 * the text arena.  *off receives its offset, *n its length in bytes.
 * Offsets, not pointers, because the arena may move while it grows.
 */
static bool
parse_string(struct w2j_decoder *d, size_t *off, size_t *n)
{
	struct buf *t = &d->text;
	size_t start;

	skip_ws(d);
	if (d->pos >= d->len)
		return fail(d, "unexpected end of input, expected a string");
	if (d->in[d->pos] != '"')
		return fail(d, "expected a string");
	d->pos++;
	start = t->len;
	for (;;) {
		size_t run = d->pos;
		char c;

		/* Copy the run of plain characters in one go. */
		while (d->pos < d->len && !string_stop[(unsigned char) d->in[d->pos]])
			d->pos++;
		buf_append(t, d->in + run, d->pos - run);
		if (d->pos >= d->len)
			return fail(d, "unexpected end of input in a string");
		c = d->in[d->pos];
		if (c == '"') {
			d->pos++;
			break;
		}
		if ((unsigned char) c < 0x20)
			return fail(d, "unescaped control character 0x%02x in a string",
						(unsigned char) c);
		/* A backslash escape. */
		d->pos++;
		if (d->pos >= d->len)
			return fail(d, "unexpected end of input in an escape");
		c = d->in[d->pos++];
		switch (c) {
		case '"': buf_append_char(t, '"'); break;
		case '\\': buf_append_char(t, '\\'); break;
		case '/': buf_append_char(t, '/'); break;
		case 'b': buf_append_char(t, '\b'); break;
		case 'f': buf_append_char(t, '\f'); break;
		case 'n': buf_append_char(t, '\n'); break;
		case 'r': buf_append_char(t, '\r'); break;
		case 't': buf_append_char(t, '\t'); break;
		case 'u': {
			unsigned cp, lo;

			if (!read_hex4(d, &cp))
				return false;
			if (cp >= 0xDC00 && cp <= 0xDFFF)
				return fail(d, "unpaired low surrogate \\u%04X", cp);
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				if (d->len - d->pos < 2 || d->in[d->pos] != '\\' ||
					d->in[d->pos + 1] != 'u')
					return fail(d, "high surrogate \\u%04X not followed by "
								   "a low surrogate",
								cp);
				d->pos += 2;
				if (!read_hex4(d, &lo))
					return false;
				if (lo < 0xDC00 || lo > 0xDFFF)
					return fail(d, "high surrogate \\u%04X not followed by "
								   "a low surrogate",
								cp);
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			}
			put_utf8(t, cp);
			break;
		}
		default:
			d->pos -= 2; /* point at the backslash */
			return fail(d, "invalid escape \"\\%c\" in a string", c);
		}
	}
	*off = start;
	*n = t->len - start;
	buf_append_char(t, '\0');
	return true;
}

/*
 * The length of the JSON number at the start of s[0..n) (JSON's grammar:
 * -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?), or 0 with the reason in
 * *why and where it was found in *at.  Pure.
 */
static size_t
number_span(const char *s, size_t n, const char **why, size_t *at)
{
	size_t i = 0;

#define NUMBER_FAIL(reason) (*why = (reason), *at = i, (size_t) 0)

	if (i < n && s[i] == '-')
		i++;
	if (i >= n)
		return NUMBER_FAIL("unexpected end of input in a number");
	if (s[i] == '0') {
		i++;
	} else if (s[i] >= '1' && s[i] <= '9') {
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	} else {
		return NUMBER_FAIL("invalid number");
	}
	if (i < n && s[i] == '.') {
		size_t digits = ++i;

		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == digits)
			return NUMBER_FAIL(
				"invalid number: no digits after the decimal point");
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t digits;

		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		digits = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == digits)
			return NUMBER_FAIL("invalid number: no digits in the exponent");
	}
	return i;
#undef NUMBER_FAIL
}

size_t
w2j_number_len(const char *s, size_t n)
{
	const char *why;
	size_t at;

	return number_span(s, n, &why, &at);
}

/* A number, checked against JSON's grammar, kept as its exact text. */
static bool
parse_number(struct w2j_decoder *d, size_t *off, size_t *n)
{
	const char *why = NULL;
	size_t at = 0, len = number_span(d->in + d->pos, d->len - d->pos, &why,
									 &at);

	if (len == 0) {
		d->pos += at; /* the error names the byte where it went wrong */
		return fail(d, "%s", why);
	}
	*off = d->text.len;
	*n = len;
	buf_append(&d->text, d->in + d->pos, len);
	buf_append_char(&d->text, '\0');
	d->pos += len;
	return true;
}

/*
 * Under numeric-data-types-as-string wal2json quotes the values of
 * exactly these types (its switch on the column's type OID: a domain
 * over them was always a string): a quoted finite number becomes a
 * number again, so staging and Kafka keep their JSON shape; NaN and the
 * infinities stay strings, the only way JSON carries them.
 */
static bool
numeric_type(const char *type, size_t len)
{
	static const char *const names[] = {"smallint", "integer", "bigint",
										"oid", "real", "double precision",
										"numeric"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i]);

		if (len >= n && memcmp(type, names[i], n) == 0 &&
			(len == n || (i == 6 && type[n] == '(' && type[len - 1] == ')')))
			return true;
	}
	return false;
}

static bool
match_word(struct w2j_decoder *d, const char *w)
{
	size_t n = strlen(w);

	if (d->len - d->pos < n || memcmp(d->in + d->pos, w, n) != 0)
		return false;
	d->pos += n;
	return true;
}

/*
 * Any JSON value (for "value" and for keys we do not know).  Scalars are
 * stored; objects and arrays are only validated and skipped.
 */
static bool
parse_value(struct w2j_decoder *d, enum w2j_kind *kind, size_t *off,
			size_t *n, int depth)
{
	char c;

	skip_ws(d);
	if (d->pos >= d->len)
		return fail(d, "unexpected end of input, expected a value");
	c = d->in[d->pos];
	*off = 0;
	*n = 0;
	if (c == '"') {
		*kind = W2J_STRING;
		return parse_string(d, off, n);
	}
	if (c == '-' || (c >= '0' && c <= '9')) {
		*kind = W2J_NUMBER;
		return parse_number(d, off, n);
	}
	if (c == 't' || c == 'f') {
		size_t start = d->pos;

		if (!match_word(d, c == 't' ? "true" : "false"))
			return fail(d, "invalid literal");
		*kind = W2J_BOOL;
		*off = d->text.len;
		*n = d->pos - start;
		buf_append(&d->text, d->in + start, *n);
		buf_append_char(&d->text, '\0');
		return true;
	}
	if (c == 'n') {
		if (!match_word(d, "null"))
			return fail(d, "invalid literal");
		*kind = W2J_NULL;
		return true;
	}
	if (c == '{' || c == '[') {
		char close = c == '{' ? '}' : ']';
		bool first = true;

		if (depth >= W2J_MAX_DEPTH)
			return fail(d, "nesting deeper than %d levels", W2J_MAX_DEPTH);
		d->pos++;
		*kind = W2J_NULL;
		for (;;) {
			enum w2j_kind k;
			size_t o, l;

			skip_ws(d);
			if (d->pos >= d->len)
				return fail(d, "unexpected end of input in %s",
							c == '{' ? "an object" : "an array");
			if (d->in[d->pos] == close) {
				d->pos++;
				return true;
			}
			if (!first && !expect(d, ',', "',' or the end of the container"))
				return false;
			first = false;
			if (c == '{') {
				if (!parse_string(d, &o, &l) ||
					!expect(d, ':', "':' after an object key"))
					return false;
			}
			if (!parse_value(d, &k, &o, &l, depth + 1))
				return false;
		}
	}
	return fail(d, "unexpected character '%c'",
				(c >= 0x20 && c < 0x7f) ? c : '?');
}

static bool
key_is(const struct w2j_decoder *d, size_t off, size_t n, const char *key)
{
	return strlen(key) == n && memcmp(d->text.data + off, key, n) == 0;
}

/* Offsets during parsing; turned into pointers once the arena is final. */
struct pending_col {
	size_t name, name_len, type, type_len, value, value_len;
	bool has_type;
	enum w2j_kind kind;
};

static struct w2j_column *
colvec_push(struct colvec *cv)
{
	if (cv->n == cv->cap) {
		cv->cap = cv->cap ? cv->cap * 2 : 32;
		cv->v = wp_realloc(cv->v, cv->cap * sizeof(*cv->v));
	}
	memset(&cv->v[cv->n], 0, sizeof(cv->v[0]));
	return &cv->v[cv->n++];
}

/* One key of a column object, at its value: name, type and value are
 * kept, any other skipped. */
static inline bool
parse_column_field(struct w2j_decoder *d, size_t ko, size_t kn,
				   struct pending_col *pc, bool *has_name, bool *has_value)
{
	enum w2j_kind k;
	size_t o, l;

	if (key_is(d, ko, kn, "name")) {
		*has_name = true;
		return parse_string(d, &pc->name, &pc->name_len);
	}
	if (key_is(d, ko, kn, "type")) {
		pc->has_type = true;
		return parse_string(d, &pc->type, &pc->type_len);
	}
	if (key_is(d, ko, kn, "value")) {
		skip_ws(d);
		if (d->pos < d->len && (d->in[d->pos] == '{' || d->in[d->pos] == '['))
			return fail(d, "a column value must be a scalar");
		*has_value = true;
		return parse_value(d, &pc->kind, &pc->value, &pc->value_len, 1);
	}
	return parse_value(d, &k, &o, &l, 1);
}

/* One column object, from its '{' (at start) into pc. */
static inline bool
parse_column(struct w2j_decoder *d, struct pending_col *pc, bool values)
{
	bool has_name = false, has_value = false, first_key = true;
	size_t start = d->pos;

	if (!expect(d, '{', "'{' to start a column"))
		return false;
	for (;;) {
		size_t ko, kn;

		skip_ws(d);
		if (d->pos < d->len && d->in[d->pos] == '}') {
			d->pos++;
			break;
		}
		if (!first_key && !expect(d, ',', "',' or '}' in a column"))
			return false;
		first_key = false;
		if (!parse_string(d, &ko, &kn) ||
			!expect(d, ':', "':' after an object key") ||
			!parse_column_field(d, ko, kn, pc, &has_name, &has_value))
			return false;
	}
	if (!has_name) {
		d->pos = start; /* point at the column */
		return fail(d, "column without a \"name\"");
	}
	if (values && !has_value) {
		d->pos = start;
		return fail(d, "column \"%s\" without a \"value\"",
					d->text.data + pc->name);
	}
	return true;
}

/* Append the parsed column pc to cv, a numeric type's string that holds
 * a number made a number (w2j_decoder_numbers_as_strings). */
static inline void
column_push(struct w2j_decoder *d, struct colvec *cv, struct pending_col *pc)
{
	struct w2j_column *col;

	if (d->numbers_as_strings && pc->kind == W2J_STRING && pc->has_type &&
		pc->value_len > 0 &&
		numeric_type(d->text.data + pc->type, pc->type_len)) {
		const char *why;
		size_t at;

		if (number_span(d->text.data + pc->value, pc->value_len, &why,
						&at) == pc->value_len)
			pc->kind = W2J_NUMBER;
	}
	if (d->drop_types)
		pc->has_type = false;
	col = colvec_push(cv);
	col->name = (const char *) (uintptr_t) pc->name;
	col->name_len = pc->name_len;
	col->type = pc->has_type ? (const char *) (uintptr_t) pc->type : NULL;
	col->type_len = pc->type_len;
	col->kind = pc->kind;
	col->value = pc->kind == W2J_NULL ? NULL
									  : (const char *) (uintptr_t) pc->value;
	col->value_len = pc->value_len;
}

/*
 * An array of column objects {"name":..., "type":..., "value":...}.  The
 * column's pointer fields temporarily hold arena offsets (as uintptr_t)
 * until fix_columns turns them into pointers.
 */
static bool
parse_columns(struct w2j_decoder *d, struct colvec *cv, bool values)
{
	bool first = true;

	if (!expect(d, '[', "'[' to start a column list"))
		return false;
	for (;;) {
		struct pending_col pc;

		skip_ws(d);
		if (d->pos >= d->len)
			return fail(d, "unexpected end of input in a column list");
		if (d->in[d->pos] == ']') {
			d->pos++;
			return true;
		}
		if (!first && !expect(d, ',', "',' or ']' in a column list"))
			return false;
		first = false;
		memset(&pc, 0, sizeof(pc));
		skip_ws(d);
		if (!parse_column(d, &pc, values))
			return false;
		column_push(d, cv, &pc);
	}
}

static void
fix_columns(struct w2j_decoder *d, struct colvec *cv)
{
	for (size_t i = 0; i < cv->n; i++) {
		struct w2j_column *c = &cv->v[i];

		c->name = d->text.data + (uintptr_t) c->name;
		if (c->type)
			c->type = d->text.data + (uintptr_t) c->type;
		if (c->kind != W2J_NULL)
			c->value = d->text.data + (uintptr_t) c->value;
	}
}

static void
colvec_trim(struct colvec *cv)
{
	cv->n = 0;
	if (cv->cap > W2J_KEEP_COLS)
		colvec_free(cv);
}

/* Offset markers for the top-level string fields. */
#define NO_OFF ((size_t) -1)

/* Arena offsets of the message's top-level strings, NO_OFF when absent. */
struct top_fields {
	size_t action, action_len, ts, schema, table, prefix, content,
		content_len;
};

/* Reset d's scratch for a message of len bytes at json. */
static inline void
decode_start(struct w2j_decoder *d, const char *json, size_t len,
			 char *errbuf, size_t errlen)
{
	buf_reset(&d->text, W2J_KEEP_BYTES);
	colvec_trim(&d->columns);
	colvec_trim(&d->identity);
	colvec_trim(&d->pk);
	/* Unescaped text never outgrows its input, plus one NUL per string:
	 * reserving this much keeps the arena from moving while parsing. */
	buf_reserve(&d->text, len * 2 + 64);
	d->in = json;
	d->len = len;
	d->pos = 0;
	d->errbuf = errbuf;
	d->errlen = errlen;
}

/* "xid": a transaction id, or null (non-transactional messages). */
static inline bool
parse_xid(struct w2j_decoder *d, struct w2j_change *out)
{
	char *end;
	unsigned long long v;
	size_t o, l;

	if (match_word(d, "null"))
		return true;
	if (d->pos >= d->len || d->in[d->pos] < '0' || d->in[d->pos] > '9')
		return fail(d, "\"xid\" must be a non-negative integer");
	if (!parse_number(d, &o, &l))
		return false;
	v = strtoull(d->text.data + o, &end, 10);
	if (*end != '\0' || v > UINT32_MAX)
		return fail(d, "\"xid\" %s is not a transaction id", d->text.data + o);
	out->xid = (uint32_t) v;
	return true;
}

/* "lsn" or (next) "nextlsn": an LSN in its text form. */
static inline bool
parse_lsn_field(struct w2j_decoder *d, bool next, struct w2j_change *out)
{
	size_t at = d->pos, o, l;
	char err[160];

	if (!parse_string(d, &o, &l))
		return false;
	if (!lsn_parse(d->text.data + o, next ? &out->nextlsn : &out->lsn, err,
				   sizeof(err))) {
		d->pos = at; /* point at the value, not past it */
		return fail(d, "%s", err);
	}
	return true;
}

/* One top-level field, at its value: into out, or its string's offset
 * into f.  A field a newer wal2json may add is skipped. */
static inline bool
parse_field(struct w2j_decoder *d, size_t ko, size_t kn,
			struct top_fields *f, struct w2j_change *out)
{
	enum w2j_kind k;
	size_t o, l;

	if (key_is(d, ko, kn, "action"))
		return parse_string(d, &f->action, &f->action_len);
	if (key_is(d, ko, kn, "xid"))
		return parse_xid(d, out);
	if (key_is(d, ko, kn, "timestamp"))
		return match_word(d, "null") || parse_string(d, &f->ts, &l);
	if (key_is(d, ko, kn, "lsn") || key_is(d, ko, kn, "nextlsn"))
		return parse_lsn_field(d, kn == 7, out);
	if (key_is(d, ko, kn, "schema"))
		return parse_string(d, &f->schema, &l);
	if (key_is(d, ko, kn, "table"))
		return parse_string(d, &f->table, &l);
	if (key_is(d, ko, kn, "columns"))
		return parse_columns(d, &d->columns, true);
	if (key_is(d, ko, kn, "identity"))
		return parse_columns(d, &d->identity, true);
	if (key_is(d, ko, kn, "pk"))
		return parse_columns(d, &d->pk, false);
	if (key_is(d, ko, kn, "transactional")) {
		if (match_word(d, "true"))
			out->transactional = true;
		else if (!match_word(d, "false"))
			return fail(d, "\"transactional\" must be true or false");
		return true;
	}
	if (key_is(d, ko, kn, "prefix"))
		return parse_string(d, &f->prefix, &l);
	if (key_is(d, ko, kn, "content"))
		return parse_string(d, &f->content, &f->content_len);
	return parse_value(d, &k, &o, &l, 1);
}

/* The fields a message of its action must have. */
static inline bool
check_fields(struct w2j_decoder *d, const struct top_fields *f,
			 struct w2j_change *out)
{
	if (f->action == NO_OFF)
		return fail(d, "no \"action\" field");
	if (f->action_len != 1 || !strchr("BCIUDTM", d->text.data[f->action]))
		return fail(d, "unknown action \"%s\"", d->text.data + f->action);
	out->action = (enum w2j_action) d->text.data[f->action];
	if (strchr("IUDT", (int) out->action) &&
		(f->schema == NO_OFF || f->table == NO_OFF))
		return fail(d, "action \"%c\" without \"schema\" and \"table\"",
					(char) out->action);
	if (out->action == W2J_MESSAGE &&
		(f->prefix == NO_OFF || f->content == NO_OFF))
		return fail(d, "message without \"prefix\" and \"content\"");
	return true;
}

/* The arena is final: offsets become pointers. */
static inline void
decode_finish(struct w2j_decoder *d, const struct top_fields *f,
			  struct w2j_change *out)
{
	const char *t = d->text.data;

	fix_columns(d, &d->columns);
	fix_columns(d, &d->identity);
	fix_columns(d, &d->pk);
	out->timestamp = f->ts == NO_OFF ? NULL : t + f->ts;
	out->schema = f->schema == NO_OFF ? NULL : t + f->schema;
	out->table = f->table == NO_OFF ? NULL : t + f->table;
	out->prefix = f->prefix == NO_OFF ? NULL : t + f->prefix;
	out->content = f->content == NO_OFF ? NULL : t + f->content;
	out->content_len = f->content_len;
	out->columns = d->columns.n ? d->columns.v : NULL;
	out->ncolumns = d->columns.n;
	out->identity = d->identity.n ? d->identity.v : NULL;
	out->nidentity = d->identity.n;
	out->pk = d->pk.n ? d->pk.v : NULL;
	out->npk = d->pk.n;
}

bool
w2j_decode(struct w2j_decoder *d, const char *json, size_t len,
		   struct w2j_change *out, char *errbuf, size_t errlen)
{
	struct top_fields f = {NO_OFF, 0, NO_OFF, NO_OFF, NO_OFF,
						   NO_OFF, NO_OFF, 0};
	bool first = true;

	memset(out, 0, sizeof(*out));
	decode_start(d, json, len, errbuf, errlen);
	if (!expect(d, '{', "'{' to start the message"))
		return false;
	for (;;) {
		size_t ko, kn;

		skip_ws(d);
		if (d->pos >= d->len)
			return fail(d, "unexpected end of input in the message");
		if (d->in[d->pos] == '}') {
			d->pos++;
			break;
		}
		if (!first && !expect(d, ',', "',' or '}' after a field"))
			return false;
		first = false;
		if (!parse_string(d, &ko, &kn) ||
			!expect(d, ':', "':' after an object key"))
			return false;
		skip_ws(d);
		if (!parse_field(d, ko, kn, &f, out))
			return false;
	}
	skip_ws(d);
	if (d->pos != d->len)
		return fail(d, "unexpected data after the message");
	if (!check_fields(d, &f, out))
		return false;
	decode_finish(d, &f, out);
	return true;
}
