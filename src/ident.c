/* ident.c: SQL names as the configuration writes them, as SQL needs them, and as wal2json's add-tables wants them. */
#include "walpipe/ident.h"

#include "walpipe/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The bytes an unquoted name may hold.  PostgreSQL's scanner takes every
 * byte >= 0x80 as a letter (ident_start/ident_cont in scan.l), so a name
 * with é needs no quotes, exactly as in psql.
 */
static bool
unquoted_byte(unsigned char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		c >= 0x80)
		return true;
	return !first && ((c >= '0' && c <= '9') || c == '$');
}

/* The byte at p for a message: itself when printable, else \xNN. */
static const char *
show_byte(char *tmp, size_t len, const char *p)
{
	unsigned char c = (unsigned char) *p;

	if (c >= 0x20 && c < 0x7f)
		snprintf(tmp, len, "%c", c);
	else
		snprintf(tmp, len, "\\x%02X", c);
	return tmp;
}

/*
 * One part at *p, up to an unquoted '.' or the end: appended to out,
 * exact.  *p is left on the '.' or the NUL.  *folded is set when an
 * unquoted part held A-Z; *quoted says which form it was.
 */
static bool
parse_part(const char **pp, struct buf *out, bool *folded, bool *quoted,
		   char *err, size_t errlen)
{
	const char *p = *pp;
	char tmp[8];

	buf_reset(out, 256);
	buf_append_str(out, ""); /* data is "" even for an empty part */
	*quoted = *p == '"';
	if (*quoted) {
		bool closed = false;

		for (p++; *p; p++) {
			if (*p == '"') {
				if (p[1] != '"') {
					closed = true;
					p++;
					break;
				}
				p++;
			}
			buf_append_char(out, *p);
		}
		if (!closed) {
			snprintf(err, errlen,
					 "unterminated quoted name: a quoted name ends with \"");
			return false;
		}
		if (out->len == 0) {
			snprintf(err, errlen, "empty quoted name \"\"");
			return false;
		}
		if (*p && *p != '.') {
			snprintf(err, errlen,
					 "unexpected \"%s\" after a quoted name: a dot or the end "
					 "must follow it",
					 show_byte(tmp, sizeof(tmp), p));
			return false;
		}
	} else {
		for (; *p && *p != '.'; p++) {
			unsigned char c = (unsigned char) *p;

			if (!unquoted_byte(c, p == *pp)) {
				if (p == *pp && ((c >= '0' && c <= '9') || c == '$'))
					snprintf(err, errlen,
							 "an unquoted name cannot start with \"%c\"", c);
				else
					snprintf(err, errlen,
							 "\"%s\" is not allowed in an unquoted name",
							 show_byte(tmp, sizeof(tmp), p));
				return false;
			}
			if (c >= 'A' && c <= 'Z') {
				c = (unsigned char) (c + ('a' - 'A'));
				*folded = true;
			}
			buf_append_char(out, (char) c);
		}
		if (out->len == 0) {
			snprintf(err, errlen, "empty name part");
			return false;
		}
	}
	if (out->len > IDENT_MAXLEN) {
		int cut = 20;

		/* Not inside a UTF-8 character: the message must stay UTF-8. */
		while (cut > 0 && ((unsigned char) out->data[cut] & 0xC0) == 0x80)
			cut--;
		snprintf(err, errlen,
				 "name \"%.*s...\" is %zu bytes long, longer than "
				 "PostgreSQL's %d",
				 cut, out->data, out->len, IDENT_MAXLEN);
		return false;
	}
	*pp = p;
	return true;
}

bool
ident_parse(const char *s, int min_parts, int max_parts,
			struct ident_name *out, char *err, size_t errlen)
{
	struct buf b = BUF_INIT;
	const char *p = s;
	bool quoted;

	memset(out, 0, sizeof(*out));
	if (*s == '\0') {
		snprintf(err, errlen, "empty name");
		return false;
	}
	for (;;) {
		if (out->nparts == max_parts) {
			snprintf(err, errlen, max_parts == 1
									  ? "a dot outside quotes"
									  : "too many dots");
			goto fail;
		}
		if (!parse_part(&p, &b, &out->folded, &quoted, err, errlen))
			goto fail;
		out->part[out->nparts++] = wp_strdup(b.data);
		if (*p == '\0')
			break;
		p++; /* the dot */
		if (*p == '\0') {
			snprintf(err, errlen, "empty name part after the dot");
			goto fail;
		}
	}
	if (out->nparts < min_parts) {
		snprintf(err, errlen, "no schema");
		goto fail;
	}
	buf_free(&b);
	return true;

fail:
	buf_free(&b);
	ident_name_free(out);
	return false;
}

void
ident_name_free(struct ident_name *n)
{
	if (n == NULL)
		return;
	free(n->part[0]);
	free(n->part[1]);
	memset(n, 0, sizeof(*n));
}

/* A JSON key part at *p: "quoted" ("" for ") or the bytes up to a dot. */
static bool
parse_key(const char **pp, struct buf *out, char *err, size_t errlen)
{
	const char *p = *pp;

	buf_reset(out, 256);
	buf_append_str(out, "");
	if (*p == '"') {
		/* Same quoting as a name, without the length limit: a JSON key
		 * is no identifier. */
		for (p++; *p; p++) {
			if (*p == '"') {
				if (p[1] != '"')
					break;
				p++;
			}
			buf_append_char(out, *p);
		}
		if (*p != '"') {
			snprintf(err, errlen,
					 "unterminated quoted JSON key: a quoted key ends with \"");
			return false;
		}
		p++;
		if (*p && *p != '.') {
			char tmp[8];

			snprintf(err, errlen,
					 "unexpected \"%s\" after a quoted JSON key: a dot or the "
					 "end must follow it",
					 show_byte(tmp, sizeof(tmp), p));
			return false;
		}
	} else {
		for (; *p && *p != '.'; p++)
			buf_append_char(out, *p);
		if (out->len == 0) {
			snprintf(err, errlen, "empty JSON key");
			return false;
		}
	}
	*pp = p;
	return true;
}

bool
ident_parse_path(const char *s, char **column, char ***keys, size_t *nkeys,
				 bool *folded, char *err, size_t errlen)
{
	struct buf b = BUF_INIT;
	const char *p = s;
	bool quoted;

	*column = NULL;
	*keys = NULL;
	*nkeys = 0;
	*folded = false;
	if (*s == '\0') {
		snprintf(err, errlen, "empty name");
		return false;
	}
	if (!parse_part(&p, &b, folded, &quoted, err, errlen))
		goto fail;
	*column = wp_strdup(b.data);
	while (*p == '.') {
		p++;
		if (!parse_key(&p, &b, err, errlen))
			goto fail;
		*keys = wp_realloc(*keys, (*nkeys + 1) * sizeof(**keys));
		(*keys)[(*nkeys)++] = wp_strdup(b.data);
	}
	buf_free(&b);
	return true;

fail:
	buf_free(&b);
	free(*column);
	*column = NULL;
	for (size_t i = 0; i < *nkeys; i++)
		free((*keys)[i]);
	free(*keys);
	*keys = NULL;
	*nkeys = 0;
	return false;
}

/* Whether name is written bare: [a-z_][a-z0-9_]*. */
static bool
bare_name(const char *name)
{
	if (name[0] == '\0')
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || *p == '_' ||
			  (p > name && *p >= '0' && *p <= '9')))
			return false;
	return true;
}

/* name in ident_append's form at out[o..len), NUL-terminated; returns
 * the new o (truncated at len - 1). */
static size_t
put_name(char *out, size_t len, size_t o, const char *name)
{
	bool bare = bare_name(name);

	if (!bare && o + 1 < len)
		out[o++] = '"';
	for (const char *p = name; *p && o + 1 < len; p++) {
		if (*p == '"' && !bare && o + 2 < len)
			out[o++] = '"';
		out[o++] = *p;
	}
	if (!bare && o + 1 < len)
		out[o++] = '"';
	out[o] = '\0';
	return o;
}

void
ident_append(struct buf *b, const char *name)
{
	size_t len = 2 * strlen(name) + 3;

	buf_reserve(b, len);
	b->len = put_name(b->data, b->len + len, b->len, name);
}

void
ident_qualified_to(char *out, size_t len, const char *schema,
				   const char *table)
{
	size_t o = put_name(out, len, 0, schema);

	if (o + 1 < len)
		out[o++] = '.';
	put_name(out, len, o, table);
}

char *
ident_qualified(const char *schema, const char *table)
{
	size_t len = 2 * (strlen(schema) + strlen(table)) + 6;
	char *out = wp_malloc(len);

	ident_qualified_to(out, len, schema, table);
	return out;
}

void
ident_append_w2j_part(struct buf *b, const char *name)
{
	for (const char *p = name; *p; p++) {
		unsigned char c = (unsigned char) *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_' || c == '$' || c >= 0x80))
			buf_append_char(b, '\\');
		buf_append_char(b, *p);
	}
}

void
ident_append_w2j(struct buf *b, const char *schema, const char *table)
{
	ident_append_w2j_part(b, schema);
	buf_append_char(b, '.');
	ident_append_w2j_part(b, table);
}

void
ident_append_w2j_all(struct buf *b, const char *schema)
{
	ident_append_w2j_part(b, schema);
	buf_append_str(b, ".*");
}

bool
ident_w2j_list(const char *list, struct buf *out, char *err, size_t errlen)
{
	const char *p = list;
	bool first = true;

	for (;;) {
		struct buf one = BUF_INIT;
		struct ident_name n;
		bool quoted = false;
		bool ok;

		while (*p == ' ')
			p++;
		for (; *p && (quoted || *p != ','); p++) {
			if (*p == '"')
				quoted = !quoted;
			buf_append_char(&one, *p);
		}
		while (one.len > 0 && one.data[one.len - 1] == ' ' && !quoted)
			one.data[--one.len] = '\0';
		ok = ident_parse(one.data ? one.data : "", 2, 2, &n, err, errlen);
		if (!ok) {
			char reason[200];

			snprintf(reason, sizeof(reason), "%s", err);
			snprintf(err, errlen, "invalid table name \"%s\": %s",
					 one.data ? one.data : "", reason);
			buf_free(&one);
			return false;
		}
		if (!first)
			buf_append_char(out, ',');
		ident_append_w2j(out, n.part[0], n.part[1]);
		ident_name_free(&n);
		buf_free(&one);
		first = false;
		if (*p != ',')
			return true;
		p++;
	}
}

void
ident_fold_hint(struct buf *b, const char *s)
{
	struct buf h = BUF_INIT;
	const char *p = s;

	buf_append_str(&h, "");
	while (*p) {
		const char *start = p;
		bool upper = false;

		if (*p == '"') {
			/* Copy the quoted part as written. */
			for (p++; *p; p++)
				if (*p == '"' && *++p != '"')
					break;
		} else {
			for (; *p && *p != '.'; p++)
				upper |= *p >= 'A' && *p <= 'Z';
		}
		if (upper)
			buf_append_char(&h, '"');
		buf_append(&h, start, (size_t) (p - start));
		if (upper)
			buf_append_char(&h, '"');
		if (*p == '.')
			buf_append_char(&h, *p++);
	}
	if (h.data[0] == '"') {
		buf_append_char(b, '\'');
		for (const char *q = h.data; *q; q++) {
			if (*q == '\'')
				buf_append_char(b, '\'');
			buf_append_char(b, *q);
		}
		buf_append_char(b, '\'');
	} else {
		buf_append_str(b, h.data);
	}
	buf_free(&h);
}

/* The ASCII-case-insensitive equality of n bytes at s with app (as
 * pg_strcasecmp compares a standby's name with application_name). */
static bool
syncname_is(const char *s, size_t n, const char *app)
{
	size_t i;

	for (i = 0; i < n && app[i]; i++) {
		unsigned char a = (unsigned char) s[i], b = (unsigned char) app[i];

		if (a >= 'A' && a <= 'Z')
			a = (unsigned char) (a - 'A' + 'a');
		if (b >= 'A' && b <= 'Z')
			b = (unsigned char) (b - 'A' + 'a');
		if (a != b)
			return false;
	}
	return i == n && app[i] == '\0';
}

static bool
syncname_start(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
		   c >= 0x80;
}

bool
ident_syncnames_match(const char *value, const char *app)
{
	const char *p = value;

	while (*p) {
		unsigned char c = (unsigned char) *p;

		if (c == '"') {
			/* A quoted name: "" inside is one ". */
			struct buf name = BUF_INIT;
			bool same;

			for (p++; *p; p++) {
				if (*p == '"' && p[1] != '"')
					break;
				if (*p == '"')
					p++;
				buf_append_char(&name, *p);
			}
			if (*p == '"')
				p++;
			/* The server compares a quoted "*" as the wildcard too. */
			same = (name.len == 1 && name.data[0] == '*') ||
				   syncname_is(name.data ? name.data : "", name.len, app);
			buf_free(&name);
			if (same)
				return true;
		} else if (syncname_start(c)) {
			const char *w = p;

			while (syncname_start((unsigned char) *p) ||
				   (*p >= '0' && *p <= '9') || *p == '$')
				p++;
			/* FIRST and ANY are keywords wherever they stand: the
			 * server's scanner never reads them as names. */
			if (!syncname_is(w, (size_t) (p - w), "first") &&
				!syncname_is(w, (size_t) (p - w), "any") &&
				syncname_is(w, (size_t) (p - w), app))
				return true;
		} else if (c >= '0' && c <= '9') {
			const char *w = p, *q;

			while (*p >= '0' && *p <= '9')
				p++;
			/* A number before "(" counts the standbys; else it is a
			 * name. */
			for (q = p; *q == ' ' || (*q >= '\t' && *q <= '\r'); q++)
				;
			if (*q != '(' && syncname_is(w, (size_t) (p - w), app))
				return true;
		} else if (c == '*') {
			return true;
		} else {
			p++;
		}
	}
	return false;
}
