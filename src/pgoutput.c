/* pgoutput.c: decoder of PostgreSQL's logical replication protocol (pgoutput) into change records. */
#include "walpipe/pgoutput.h"

#include "walpipe/buf.h"
#include "walpipe/changefmt.h"
#include "walpipe/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Scratch memory kept between messages; more is released afterwards. */
#define PGO_KEEP_BYTES (1u << 20)
#define PGO_KEEP_COLS 4096

/* A column of a relation as its 'R' message described it. */
struct pgo_col {
	char *name;
	uint32_t typoid;
	int32_t typmod;
	bool key;		/* part of the replica identity */
	char *typname;	/* format_type's, NULL until first needed */
};

struct pgo_rel {
	uint32_t oid;
	char *schema, *table;
	char replident;
	int ncols;
	struct pgo_col *cols;
};

/* Open addressing, OID -> entry; entries are replaced, never removed. */
struct oidmap {
	uint32_t *keys;
	void **vals;
	size_t n, cap; /* cap: 0 or a power of two */
};

struct colvec {
	struct w2j_column *v;
	size_t n, cap;
};

struct pgo_decoder {
	struct oidmap rels;	 /* struct pgo_rel * */
	struct oidmap types; /* char *: names from 'Y' and set_type */
	bool drop_types;
	/* The open transaction, from its 'B'. */
	uint32_t xid;
	char ts[48];
	bool in_txn;
	/* The last message's records. */
	struct buf text;
	struct buf json; /* pgo_decoder_json */
	struct colvec columns, identity, pk;
	struct w2j_change base; /* what every record of the message shares */
	const struct pgo_rel **trunc; /* the relations of a 'T' */
	size_t ntrunc, cap_trunc;
	int nchanges;
	int trunc_flags;
	char *origin;
	/* Per-message parser state. */
	char kind;
	const unsigned char *in;
	size_t len, pos;
	char *errbuf;
	size_t errlen;
};

/* --- the OID map --- */

static size_t
oidmap_slot(const struct oidmap *m, uint32_t key)
{
	size_t i = (key * 2654435761u) & (m->cap - 1);

	while (m->vals[i] != NULL && m->keys[i] != key)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static void *
oidmap_get(const struct oidmap *m, uint32_t key)
{
	return m->cap ? m->vals[oidmap_slot(m, key)] : NULL;
}

/* Put val at key; returns the value it replaces (the caller frees it). */
static void *
oidmap_put(struct oidmap *m, uint32_t key, void *val)
{
	size_t i;
	void *old;

	if ((m->n + 1) * 2 > m->cap) {
		struct oidmap g = {NULL, NULL, 0, m->cap ? m->cap * 2 : 64};

		g.keys = wp_calloc(g.cap, sizeof(*g.keys));
		g.vals = wp_calloc(g.cap, sizeof(*g.vals));
		for (size_t k = 0; k < m->cap; k++)
			if (m->vals[k] != NULL) {
				size_t j = oidmap_slot(&g, m->keys[k]);

				g.keys[j] = m->keys[k];
				g.vals[j] = m->vals[k];
				g.n++;
			}
		free(m->keys);
		free(m->vals);
		*m = g;
	}
	i = oidmap_slot(m, key);
	old = m->vals[i];
	if (old == NULL)
		m->n++;
	m->keys[i] = key;
	m->vals[i] = val;
	return old;
}

static void
rel_free(struct pgo_rel *r)
{
	if (r == NULL)
		return;
	for (int i = 0; i < r->ncols; i++) {
		free(r->cols[i].name);
		free(r->cols[i].typname);
	}
	free(r->cols);
	free(r->schema);
	free(r->table);
	free(r);
}

static void
oidmap_free(struct oidmap *m, void (*free_val)(void *))
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->vals[i] != NULL)
			free_val(m->vals[i]);
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

static void
rel_free_any(void *p)
{
	rel_free(p);
}

/* --- built-in type names --- */

/* How format_type writes a type's typmod. */
enum typmod_style {
	TM_NONE,	 /* none */
	TM_LENGTH,	 /* "(n)" with n = typmod - 4: varchar, bpchar */
	TM_BITS,	 /* "(n)" with n = typmod: bit, bit varying */
	TM_NUMERIC,	 /* "(p,s)" */
	TM_PREC,	 /* "(p)" before " with[out] time zone" */
	TM_INTERVAL, /* " day to second(p)" */
};

struct builtin_type {
	uint32_t oid;
	uint32_t array; /* its array type's OID */
	const char *name;
	const char *suffix; /* after the typmod: " without time zone" */
	const char *bare;	/* typmod -1 (given) writes this, if not name */
	enum typmod_style tm;
};

/* pg_type.dat of PostgreSQL 15: the types format_type names specially,
 * and those a table's column may have. */
static const struct builtin_type builtin_types[] = {
	{16, 1000, "boolean", "", NULL, TM_NONE},
	{17, 1001, "bytea", "", NULL, TM_NONE},
	{18, 1002, "\"char\"", "", NULL, TM_NONE},
	{19, 1003, "name", "", NULL, TM_NONE},
	{20, 1016, "bigint", "", NULL, TM_NONE},
	{21, 1005, "smallint", "", NULL, TM_NONE},
	{22, 1006, "int2vector", "", NULL, TM_NONE},
	{23, 1007, "integer", "", NULL, TM_NONE},
	{24, 1008, "regproc", "", NULL, TM_NONE},
	{25, 1009, "text", "", NULL, TM_NONE},
	{26, 1028, "oid", "", NULL, TM_NONE},
	{27, 1010, "tid", "", NULL, TM_NONE},
	{28, 1011, "xid", "", NULL, TM_NONE},
	{29, 1012, "cid", "", NULL, TM_NONE},
	{30, 1013, "oidvector", "", NULL, TM_NONE},
	{114, 199, "json", "", NULL, TM_NONE},
	{142, 143, "xml", "", NULL, TM_NONE},
	{600, 1017, "point", "", NULL, TM_NONE},
	{601, 1018, "lseg", "", NULL, TM_NONE},
	{602, 1019, "path", "", NULL, TM_NONE},
	{603, 1020, "box", "", NULL, TM_NONE},
	{604, 1027, "polygon", "", NULL, TM_NONE},
	{628, 629, "line", "", NULL, TM_NONE},
	{650, 651, "cidr", "", NULL, TM_NONE},
	{700, 1021, "real", "", NULL, TM_NONE},
	{701, 1022, "double precision", "", NULL, TM_NONE},
	{718, 719, "circle", "", NULL, TM_NONE},
	{774, 775, "macaddr8", "", NULL, TM_NONE},
	{790, 791, "money", "", NULL, TM_NONE},
	{829, 1040, "macaddr", "", NULL, TM_NONE},
	{869, 1041, "inet", "", NULL, TM_NONE},
	{1033, 1034, "aclitem", "", NULL, TM_NONE},
	{1042, 1014, "character", "", "bpchar", TM_LENGTH},
	{1043, 1015, "character varying", "", NULL, TM_LENGTH},
	{1082, 1182, "date", "", NULL, TM_NONE},
	{1083, 1183, "time", " without time zone", NULL, TM_PREC},
	{1114, 1115, "timestamp", " without time zone", NULL, TM_PREC},
	{1184, 1185, "timestamp", " with time zone", NULL, TM_PREC},
	{1186, 1187, "interval", "", NULL, TM_INTERVAL},
	{1266, 1270, "time", " with time zone", NULL, TM_PREC},
	{1560, 1561, "bit", "", "\"bit\"", TM_BITS},
	{1562, 1563, "bit varying", "", NULL, TM_BITS},
	{1700, 1231, "numeric", "", NULL, TM_NUMERIC},
	{1790, 2201, "refcursor", "", NULL, TM_NONE},
	{2202, 2207, "regprocedure", "", NULL, TM_NONE},
	{2203, 2208, "regoper", "", NULL, TM_NONE},
	{2204, 2209, "regoperator", "", NULL, TM_NONE},
	{2205, 2210, "regclass", "", NULL, TM_NONE},
	{2206, 2211, "regtype", "", NULL, TM_NONE},
	{2249, 2287, "record", "", NULL, TM_NONE},
	{2275, 1263, "cstring", "", NULL, TM_NONE},
	{2950, 2951, "uuid", "", NULL, TM_NONE},
	{2970, 2949, "txid_snapshot", "", NULL, TM_NONE},
	{3220, 3221, "pg_lsn", "", NULL, TM_NONE},
	{3614, 3643, "tsvector", "", NULL, TM_NONE},
	{3615, 3645, "tsquery", "", NULL, TM_NONE},
	{3642, 3644, "gtsvector", "", NULL, TM_NONE},
	{3734, 3735, "regconfig", "", NULL, TM_NONE},
	{3769, 3770, "regdictionary", "", NULL, TM_NONE},
	{3802, 3807, "jsonb", "", NULL, TM_NONE},
	{3904, 3905, "int4range", "", NULL, TM_NONE},
	{3906, 3907, "numrange", "", NULL, TM_NONE},
	{3908, 3909, "tsrange", "", NULL, TM_NONE},
	{3910, 3911, "tstzrange", "", NULL, TM_NONE},
	{3912, 3913, "daterange", "", NULL, TM_NONE},
	{3926, 3927, "int8range", "", NULL, TM_NONE},
	{4072, 4073, "jsonpath", "", NULL, TM_NONE},
	{4089, 4090, "regnamespace", "", NULL, TM_NONE},
	{4096, 4097, "regrole", "", NULL, TM_NONE},
	{4191, 4192, "regcollation", "", NULL, TM_NONE},
	{4451, 6150, "int4multirange", "", NULL, TM_NONE},
	{4532, 6151, "nummultirange", "", NULL, TM_NONE},
	{4533, 6152, "tsmultirange", "", NULL, TM_NONE},
	{4534, 6153, "tstzmultirange", "", NULL, TM_NONE},
	{4535, 6155, "datemultirange", "", NULL, TM_NONE},
	{4536, 6157, "int8multirange", "", NULL, TM_NONE},
	{5038, 5039, "pg_snapshot", "", NULL, TM_NONE},
	{5069, 271, "xid8", "", NULL, TM_NONE},
};

/* The typmod text of style tm ("" for none), into out. */
static void
format_typmod(enum typmod_style tm, int32_t typmod, char *out, size_t outlen)
{
	/* interval's field masks (datetime.h) and their names. */
	static const struct {
		int32_t mask;
		const char *name;
	} fields[] = {
		{1 << 2, " year"},
		{1 << 1, " month"},
		{1 << 3, " day"},
		{1 << 10, " hour"},
		{1 << 11, " minute"},
		{1 << 12, " second"},
		{(1 << 2) | (1 << 1), " year to month"},
		{(1 << 3) | (1 << 10), " day to hour"},
		{(1 << 3) | (1 << 10) | (1 << 11), " day to minute"},
		{(1 << 3) | (1 << 10) | (1 << 11) | (1 << 12), " day to second"},
		{(1 << 10) | (1 << 11), " hour to minute"},
		{(1 << 10) | (1 << 11) | (1 << 12), " hour to second"},
		{(1 << 11) | (1 << 12), " minute to second"},
	};

	out[0] = '\0';
	switch (tm) {
	case TM_NONE:
		break;
	case TM_LENGTH:
		snprintf(out, outlen, "(%d)", typmod - 4);
		break;
	case TM_BITS:
	case TM_PREC:
		snprintf(out, outlen, "(%d)", typmod);
		break;
	case TM_NUMERIC: {
		int32_t t = typmod - 4;

		/* PostgreSQL 15's scale may be negative: 11 bits, signed. */
		snprintf(out, outlen, "(%d,%d)", (t >> 16) & 0xffff,
				 ((t & 0x7ff) ^ 1024) - 1024);
		break;
	}
	case TM_INTERVAL: {
		int32_t range = (typmod >> 16) & 0x7fff, prec = typmod & 0xffff;
		const char *f = "";

		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			if (fields[i].mask == range)
				f = fields[i].name;
		if (prec != 0xffff)
			snprintf(out, outlen, "%s(%d)", f, prec);
		else
			snprintf(out, outlen, "%s", f);
		break;
	}
	}
}

static const struct builtin_type *
builtin_find(uint32_t oid, bool *is_array)
{
	for (size_t i = 0; i < sizeof(builtin_types) / sizeof(builtin_types[0]);
		 i++) {
		if (builtin_types[i].oid == oid || builtin_types[i].array == oid) {
			*is_array = builtin_types[i].array == oid;
			return &builtin_types[i];
		}
	}
	return NULL;
}

bool
pgo_builtin_type_name(uint32_t oid, int32_t typmod, char *out, size_t outlen)
{
	bool is_array = false;
	const struct builtin_type *t = builtin_find(oid, &is_array);
	char tm[64];

	if (outlen > 0)
		out[0] = '\0';
	if (t == NULL)
		return false;
	/* format_type with FORMAT_TYPE_TYPEMOD_GIVEN, as wal2json calls it:
	 * the typmod only when >= 0, and a typmod of -1 (no length) names a
	 * few types differently from their SQL spelling, which means (1). */
	if (typmod >= 0 && t->tm != TM_NONE) {
		format_typmod(t->tm, typmod, tm, sizeof(tm));
		snprintf(out, outlen, "%s%s%s%s", t->name, tm, t->suffix,
				 is_array ? "[]" : "");
	} else {
		snprintf(out, outlen, "%s%s%s", t->bare ? t->bare : t->name,
				 t->suffix, is_array ? "[]" : "");
	}
	return true;
}

/* The name of a column's type, computed once (until a 'Y' message or
 * pgo_decoder_set_type names its OID). */
static const char *
col_type_name(const struct pgo_decoder *d, struct pgo_col *c)
{
	char name[256];
	const char *user;

	if (c->typname)
		return c->typname;
	if (!pgo_builtin_type_name(c->typoid, c->typmod, name, sizeof(name))) {
		user = oidmap_get(&d->types, c->typoid);
		if (user)
			snprintf(name, sizeof(name), "%s", user);
		else /* not known (yet): the OID, as format_type writes it */
			snprintf(name, sizeof(name), "%u", c->typoid);
	}
	c->typname = wp_strdup(name);
	return c->typname;
}

/* --- the decoder --- */

struct pgo_decoder *
pgo_decoder_new(void)
{
	return wp_calloc(1, sizeof(struct pgo_decoder));
}

void
pgo_decoder_keep_types(struct pgo_decoder *dec, bool keep)
{
	dec->drop_types = !keep;
}

static void
colvec_free(struct colvec *cv)
{
	free(cv->v);
	memset(cv, 0, sizeof(*cv));
}

void
pgo_decoder_free(struct pgo_decoder *dec)
{
	if (dec == NULL)
		return;
	oidmap_free(&dec->rels, rel_free_any);
	oidmap_free(&dec->types, free);
	buf_free(&dec->text);
	buf_free(&dec->json);
	colvec_free(&dec->columns);
	colvec_free(&dec->identity);
	colvec_free(&dec->pk);
	free(dec->trunc);
	free(dec->origin);
	free(dec);
}

/* The name of a type a 'Y' message describes: format_type's, with the
 * schema unless it is pg_catalog or public (on the search path), and an
 * array type "_x" as "x[]". */
static char *
type_display_name(const char *schema, const char *name)
{
	struct buf b = BUF_INIT;
	bool array = name[0] == '_' && name[1] != '\0';

	if (schema[0] != '\0' && strcmp(schema, "pg_catalog") != 0 &&
		strcmp(schema, "public") != 0)
		buf_appendf(&b, "%s.", schema);
	buf_append_str(&b, array ? name + 1 : name);
	if (array)
		buf_append_str(&b, "[]");
	return b.data;
}

/* Forget every cached type name of a relation's columns of type oid. */
static void
forget_type(struct pgo_decoder *d, uint32_t oid)
{
	for (size_t i = 0; i < d->rels.cap; i++) {
		struct pgo_rel *r = d->rels.vals[i];

		for (int k = 0; r && k < r->ncols; k++)
			if (r->cols[k].typoid == oid) {
				free(r->cols[k].typname);
				r->cols[k].typname = NULL;
			}
	}
}

void
pgo_decoder_set_type(struct pgo_decoder *dec, uint32_t oid, const char *name)
{
	free(oidmap_put(&dec->types, oid, wp_strdup(name)));
	forget_type(dec, oid);
}

static bool
fail(struct pgo_decoder *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static bool
fail(struct pgo_decoder *d, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (d->errbuf == NULL || d->errlen == 0)
		return false;
	if (d->kind >= 0x20 && d->kind < 0x7f)
		n = snprintf(d->errbuf, d->errlen,
					 "invalid pgoutput message '%c' at byte %zu: ", d->kind,
					 d->pos);
	else
		n = snprintf(d->errbuf, d->errlen,
					 "invalid pgoutput message at byte %zu: ", d->pos);
	if (n >= 0 && (size_t) n < d->errlen) {
		va_start(ap, fmt);
		vsnprintf(d->errbuf + n, d->errlen - (size_t) n, fmt, ap);
		va_end(ap);
	}
	return false;
}

static bool
need(struct pgo_decoder *d, size_t n, const char *what)
{
	if (d->len - d->pos < n)
		return fail(d, "message ends inside %s", what);
	return true;
}

static bool
get_u8(struct pgo_decoder *d, uint8_t *v, const char *what)
{
	if (!need(d, 1, what))
		return false;
	*v = d->in[d->pos++];
	return true;
}

static bool
get_u16(struct pgo_decoder *d, uint16_t *v, const char *what)
{
	if (!need(d, 2, what))
		return false;
	*v = (uint16_t) ((d->in[d->pos] << 8) | d->in[d->pos + 1]);
	d->pos += 2;
	return true;
}

static bool
get_u32(struct pgo_decoder *d, uint32_t *v, const char *what)
{
	if (!need(d, 4, what))
		return false;
	*v = ((uint32_t) d->in[d->pos] << 24) |
		 ((uint32_t) d->in[d->pos + 1] << 16) |
		 ((uint32_t) d->in[d->pos + 2] << 8) | d->in[d->pos + 3];
	d->pos += 4;
	return true;
}

static bool
get_u64(struct pgo_decoder *d, uint64_t *v, const char *what)
{
	uint32_t hi, lo;

	if (!need(d, 8, what) || !get_u32(d, &hi, what) ||
		!get_u32(d, &lo, what))
		return false;
	*v = ((uint64_t) hi << 32) | lo;
	return true;
}

/* A String: *s points at it in the input, NUL-terminated there. */
static bool
get_string(struct pgo_decoder *d, const char **s, const char *what)
{
	const unsigned char *nul =
		memchr(d->in + d->pos, '\0', d->len - d->pos);

	if (nul == NULL)
		return fail(d, "%s is not NUL-terminated", what);
	*s = (const char *) d->in + d->pos;
	d->pos = (size_t) (nul - d->in) + 1;
	return true;
}

/* Copy s[0..n) and a NUL into the arena, reserved so it never moves. */
static const char *
put_text(struct pgo_decoder *d, const char *s, size_t n)
{
	const char *p = d->text.data + d->text.len;

	buf_append(&d->text, s, n);
	buf_append_char(&d->text, '\0');
	return p;
}

/*
 * The commit time, microseconds since 2000-01-01 00:00 UTC, as
 * timestamptz_out writes it with TimeZone UTC: seconds' fraction without
 * trailing zeros, e.g. "2026-11-24 23:26:41.15+00".
 */
/* v as exactly width decimal digits (0 <= v < 10^width) at *p. */
static void
put_digits(char **p, int64_t v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		(*p)[i] = (char) ('0' + v % 10);
		v /= 10;
	}
	*p += width;
}

static void
format_commit_time(int64_t us, char *out, size_t outlen)
{
	int64_t secs = us / 1000000, frac = us % 1000000, days, rem;
	int64_t z, era, doe, yoe, y, doy, mp, dd, mm;
	char f[16] = "";

	if (frac < 0) {
		frac += 1000000;
		secs--;
	}
	days = secs / 86400;
	rem = secs % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	/* Days since 1970-01-01 to a civil date (H. Hinnant's algorithm). */
	z = days + 10957 + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	dd = doy - (153 * mp + 2) / 5 + 1;
	mm = mp < 10 ? mp + 3 : mp - 9;
	y += mm <= 2;
	if (y < 0 || y > 9999 || outlen < 40) {
		/* Not a commit time this century: the general path. */
		if (frac) {
			int n = snprintf(f, sizeof(f), ".%06lld", (long long) frac);

			while (n > 1 && f[n - 1] == '0')
				f[--n] = '\0';
		}
		snprintf(out, outlen, "%04lld-%02lld-%02lld %02lld:%02lld:%02lld%s+00",
				 (long long) y, (long long) mm, (long long) dd,
				 (long long) (rem / 3600), (long long) (rem / 60 % 60),
				 (long long) (rem % 60), f);
		return;
	}
	/* Digits by hand: once per transaction, and snprintf showed in the
	 * profile of a stream of small transactions. */
	{
		char *p = out;

		put_digits(&p, y, 4);
		*p++ = '-';
		put_digits(&p, mm, 2);
		*p++ = '-';
		put_digits(&p, dd, 2);
		*p++ = ' ';
		put_digits(&p, rem / 3600, 2);
		*p++ = ':';
		put_digits(&p, rem / 60 % 60, 2);
		*p++ = ':';
		put_digits(&p, rem % 60, 2);
		if (frac) {
			int n = 6;

			while (frac % 10 == 0) {
				frac /= 10;
				n--;
			}
			*p++ = '.';
			put_digits(&p, frac, n);
		}
		memcpy(p, "+00", 4);
	}
}

/* Type OIDs whose values wal2json writes as JSON numbers, and bool. */
static enum w2j_kind
value_kind(uint32_t typoid, const char *v, size_t n)
{
	switch (typoid) {
	case 20: case 21: case 23: case 26: /* int8 int2 int4 oid */
	case 700: case 701: case 1700:		/* float4 float8 numeric */
		/* A finite value is a JSON number; NaN and the infinities
		 * are the strings JSON can carry them as. */
		return w2j_number_len(v, n) == n && n > 0 ? W2J_NUMBER
												  : W2J_STRING;
	case 16:
		return n == 1 && (v[0] == 't' || v[0] == 'f') ? W2J_BOOL
													  : W2J_STRING;
	default:
		return W2J_STRING;
	}
}

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

static void
colvec_trim(struct colvec *cv)
{
	cv->n = 0;
	if (cv->cap > PGO_KEEP_COLS)
		colvec_free(cv);
}

static void
push_named(struct pgo_decoder *d, struct colvec *cv, struct pgo_col *c)
{
	struct w2j_column *col = colvec_push(cv);

	col->name = c->name;
	col->name_len = strlen(c->name);
	if (!d->drop_types) {
		col->type = col_type_name(d, c);
		col->type_len = strlen(col->type);
	}
}

/*
 * TupleData of relation r into cv.  only_keys: only the replica identity
 * columns (a 'K' tuple sends the others as nulls).
 */
static bool
parse_tuple(struct pgo_decoder *d, const struct pgo_rel *r, struct colvec *cv,
			bool only_keys)
{
	uint16_t n;

	if (!get_u16(d, &n, "the column count"))
		return false;
	if (n != r->ncols)
		return fail(d, "%u columns, but relation %u has %d", n, r->oid,
					r->ncols);
	for (int i = 0; i < n; i++) {
		struct pgo_col *c = &r->cols[i];
		struct w2j_column *col;
		uint8_t kind;
		uint32_t vlen;

		if (!get_u8(d, &kind, "a column"))
			return false;
		if (kind == 'u')
			continue; /* unchanged TOAST value: absent, as in wal2json */
		if (kind != 'n' && kind != 't') {
			d->pos--;
			return fail(d, "unknown column kind 0x%02x", kind);
		}
		if (kind == 't' && (!get_u32(d, &vlen, "a value length") ||
							!need(d, vlen, "a value")))
			return false;
		if (only_keys && !c->key) {
			d->pos += kind == 't' ? vlen : 0;
			continue;
		}
		push_named(d, cv, c);
		col = &cv->v[cv->n - 1];
		if (kind == 'n') {
			col->kind = W2J_NULL;
			continue;
		}
		col->kind = value_kind(c->typoid, (const char *) d->in + d->pos, vlen);
		if (c->typoid == 17 && vlen >= 2 && d->in[d->pos] == '\\' &&
			d->in[d->pos + 1] == 'x') {
			/* bytea: wal2json sends the hex digits without "\x"
			 * (collapse.c puts it back). */
			col->value = put_text(d, (const char *) d->in + d->pos + 2,
								  vlen - 2);
			col->value_len = vlen - 2;
		} else if (col->kind == W2J_BOOL) {
			col->value = d->in[d->pos] == 't' ? put_text(d, "true", 4)
											  : put_text(d, "false", 5);
			col->value_len = strlen(col->value);
		} else {
			col->value = put_text(d, (const char *) d->in + d->pos, vlen);
			col->value_len = vlen;
		}
		d->pos += vlen;
	}
	return true;
}

/*
 * The identity columns of r (the "pk" of wal2json's include-pk).  Under
 * REPLICA IDENTITY FULL pgoutput flags every column, where wal2json names
 * the primary key, which pgoutput does not say: none, as for a table
 * without one, rather than a key of every column (a Kafka message key
 * that changes with every update).
 */
static void
put_pk(struct pgo_decoder *d, struct pgo_rel *r)
{
	if (r->replident == 'f')
		return;
	for (int i = 0; i < r->ncols; i++)
		if (r->cols[i].key)
			push_named(d, &d->pk, &r->cols[i]);
}

/* Of the new row in d->columns, the identity columns into d->identity. */
static void
identity_from_new(struct pgo_decoder *d, const struct pgo_rel *r)
{
	for (size_t i = 0; i < d->columns.n; i++) {
		const struct w2j_column *c = &d->columns.v[i];

		for (int k = 0; k < r->ncols; k++)
			if (r->cols[k].key && r->cols[k].name == c->name)
				*colvec_push(&d->identity) = *c;
	}
}

static bool
parse_relation_ref(struct pgo_decoder *d, struct pgo_rel **r)
{
	uint32_t oid;

	if (!get_u32(d, &oid, "the relation OID"))
		return false;
	*r = oidmap_get(&d->rels, oid);
	if (*r == NULL) {
		d->pos -= 4;
		return fail(d, "relation %u was not described by a Relation message",
					oid);
	}
	d->base.schema = (*r)->schema;
	d->base.table = (*r)->table;
	return true;
}

static bool
expect_tag(struct pgo_decoder *d, uint8_t *tag, const char *allowed)
{
	if (!get_u8(d, tag, "a tuple tag"))
		return false;
	if (*tag == 0 || strchr(allowed, *tag) == NULL) {
		d->pos--;
		return fail(d, "unexpected tuple tag 0x%02x, expected one of \"%s\"",
					*tag, allowed);
	}
	return true;
}

/* 'I', 'U', 'D' after the kind byte. */
static bool
parse_row_change(struct pgo_decoder *d)
{
	struct pgo_rel *r;
	uint8_t tag;

	if (!parse_relation_ref(d, &r))
		return false;
	d->base.action = (enum w2j_action) d->kind;
	if (d->kind == 'I')
		return expect_tag(d, &tag, "N") && parse_tuple(d, r, &d->columns,
													   false) &&
			   (put_pk(d, r), true);
	if (!expect_tag(d, &tag, d->kind == 'U' ? "KON" : "KO"))
		return false;
	if (tag != 'N' && !parse_tuple(d, r, &d->identity, tag == 'K'))
		return false;
	if (d->kind == 'U') {
		if (tag != 'N' && !expect_tag(d, &tag, "N"))
			return false;
		if (!parse_tuple(d, r, &d->columns, false))
			return false;
		/* No old row: the key did not change, and the new row has it. */
		if (d->identity.n == 0)
			identity_from_new(d, r);
	}
	put_pk(d, r);
	return true;
}

/* 'R': a relation's description, replacing the cached one. */
static bool
parse_relation(struct pgo_decoder *d)
{
	struct pgo_rel *r = wp_calloc(1, sizeof(*r));
	const char *schema = NULL, *table = NULL;
	uint8_t ident;
	uint16_t n;

	if (!get_u32(d, &r->oid, "the relation OID") ||
		!get_string(d, &schema, "the schema name") ||
		!get_string(d, &table, "the relation name") ||
		!get_u8(d, &ident, "the replica identity") ||
		!get_u16(d, &n, "the column count"))
		goto bad;
	r->schema = wp_strdup(schema[0] ? schema : "pg_catalog");
	r->table = wp_strdup(table);
	r->replident = (char) ident;
	r->cols = wp_calloc(n ? n : 1, sizeof(*r->cols));
	for (int i = 0; i < n; i++) {
		struct pgo_col *c = &r->cols[i];
		const char *name = NULL;
		uint8_t flags;
		uint32_t typmod;

		if (!get_u8(d, &flags, "column flags") ||
			!get_string(d, &name, "a column name") ||
			!get_u32(d, &c->typoid, "a column type") ||
			!get_u32(d, &typmod, "a column typmod"))
			goto bad;
		c->name = wp_strdup(name);
		c->typmod = (int32_t) typmod;
		c->key = (flags & 1) != 0;
		r->ncols = i + 1;
	}
	rel_free(oidmap_put(&d->rels, r->oid, r));
	return true;
bad:
	rel_free(r);
	return false;
}

/* 'Y': a type's name. */
static bool
parse_type(struct pgo_decoder *d)
{
	uint32_t oid;
	const char *schema = NULL, *name = NULL;

	if (!get_u32(d, &oid, "the type OID") ||
		!get_string(d, &schema, "the schema name") ||
		!get_string(d, &name, "the type name"))
		return false;
	free(oidmap_put(&d->types, oid, type_display_name(schema, name)));
	forget_type(d, oid);
	return true;
}

/* 'T': the relations truncated together. */
static bool
parse_truncate(struct pgo_decoder *d)
{
	uint32_t n;
	uint8_t flags;

	if (!get_u32(d, &n, "the relation count") ||
		!get_u8(d, &flags, "the truncate flags"))
		return false;
	if (n == 0 || n > (d->len - d->pos) / 4)
		return fail(d, "%u relations do not fit the message", n);
	if (n > d->cap_trunc) {
		d->cap_trunc = n;
		d->trunc = wp_realloc(d->trunc, n * sizeof(*d->trunc));
	}
	for (uint32_t i = 0; i < n; i++) {
		struct pgo_rel *r;

		if (!parse_relation_ref(d, &r))
			return false;
		d->trunc[i] = r;
	}
	d->ntrunc = n;
	d->trunc_flags = flags;
	d->base.action = W2J_TRUNCATE;
	return true;
}

/* 'M': a logical message. */
static bool
parse_message(struct pgo_decoder *d)
{
	uint8_t flags;
	uint64_t lsn;
	uint32_t n;
	const char *prefix = NULL;

	if (!get_u8(d, &flags, "the message flags") ||
		!get_u64(d, &lsn, "the message LSN") ||
		!get_string(d, &prefix, "the message prefix") ||
		!get_u32(d, &n, "the content length") ||
		!need(d, n, "the content"))
		return false;
	d->base.action = W2J_MESSAGE;
	d->base.transactional = (flags & 1) != 0;
	d->base.lsn = lsn;
	d->base.prefix = put_text(d, prefix, strlen(prefix));
	d->base.content = put_text(d, (const char *) d->in + d->pos, n);
	d->base.content_len = n;
	d->pos += n;
	if (!d->base.transactional) {
		d->base.xid = 0;
		d->base.timestamp = NULL;
	}
	return true;
}

/* 'B' and 'C'. */
static bool
parse_txn(struct pgo_decoder *d)
{
	uint64_t a, b, t;
	uint32_t xid;
	uint8_t flags;

	if (d->kind == 'B') {
		if (!get_u64(d, &a, "the final LSN") ||
			!get_u64(d, &t, "the commit time") ||
			!get_u32(d, &xid, "the transaction id"))
			return false;
		d->xid = xid;
		format_commit_time((int64_t) t, d->ts, sizeof(d->ts));
		d->in_txn = true;
		d->base.action = W2J_BEGIN;
		d->base.lsn = a;
		/* Where it ends is not known yet: see pgoutput.h. */
		d->base.nextlsn = a + 1;
	} else {
		if (!get_u8(d, &flags, "the commit flags") ||
			!get_u64(d, &a, "the commit LSN") ||
			!get_u64(d, &b, "the end LSN") ||
			!get_u64(d, &t, "the commit time"))
			return false;
		format_commit_time((int64_t) t, d->ts, sizeof(d->ts));
		d->base.action = W2J_COMMIT;
		d->base.lsn = a;
		d->base.nextlsn = b;
		d->in_txn = false;
	}
	d->base.xid = d->xid;
	d->base.timestamp = d->ts;
	return true;
}

/* 'O': the origin of the transaction's changes. */
static bool
parse_origin(struct pgo_decoder *d)
{
	uint64_t lsn;
	const char *name = NULL;

	if (!get_u64(d, &lsn, "the origin LSN") ||
		!get_string(d, &name, "the origin name"))
		return false;
	free(d->origin);
	d->origin = wp_strdup(name);
	return true;
}

static bool
parse_body(struct pgo_decoder *d)
{
	switch (d->kind) {
	case 'B':
	case 'C':
		d->nchanges = 1;
		return parse_txn(d);
	case 'I':
	case 'U':
	case 'D':
		d->nchanges = 1;
		return parse_row_change(d);
	case 'T':
		if (!parse_truncate(d))
			return false;
		d->nchanges = (int) d->ntrunc;
		return true;
	case 'M':
		d->nchanges = 1;
		return parse_message(d);
	case 'R':
		return parse_relation(d);
	case 'Y':
		return parse_type(d);
	case 'O':
		return parse_origin(d);
	default:
		d->pos = 0;
		return fail(d, "unknown message type 0x%02x", (unsigned char) d->kind);
	}
}

int
pgo_decode(struct pgo_decoder *d, lsn_t data_start, const char *msg,
		   size_t len, char *errbuf, size_t errlen)
{
	memset(&d->base, 0, sizeof(d->base));
	buf_reset(&d->text, PGO_KEEP_BYTES);
	colvec_trim(&d->columns);
	colvec_trim(&d->identity);
	colvec_trim(&d->pk);
	/* Every copied value, and its NUL, comes from at least as many
	 * bytes of the message ("true" from 't' + a 4-byte length + 1),
	 * so the arena never moves while parsing. */
	buf_reserve(&d->text, len * 2 + 64);
	d->in = (const unsigned char *) msg;
	d->len = len;
	d->pos = 0;
	d->errbuf = errbuf;
	d->errlen = errlen;
	d->nchanges = 0;
	d->ntrunc = 0;
	if (len == 0) {
		d->kind = 0;
		fail(d, "empty message");
		return -1;
	}
	d->kind = (char) d->in[d->pos++];
	/* Changes of the open transaction carry its xid and commit time,
	 * as wal2json's do. */
	d->base.lsn = data_start;
	if (d->in_txn) {
		d->base.xid = d->xid;
		d->base.timestamp = d->ts;
	}
	if (!parse_body(d)) {
		d->nchanges = 0;
		return -1;
	}
	if (d->pos != d->len) {
		d->nchanges = 0;
		fail(d, "%zu bytes after the end of the message", d->len - d->pos);
		return -1;
	}
	return d->nchanges;
}

void
pgo_decoder_change(const struct pgo_decoder *d, size_t i,
				   struct w2j_change *out)
{
	*out = d->base;
	if (d->base.action == W2J_TRUNCATE) {
		out->schema = d->trunc[i]->schema;
		out->table = d->trunc[i]->table;
		return;
	}
	out->columns = d->columns.n ? d->columns.v : NULL;
	out->ncolumns = d->columns.n;
	out->identity = d->identity.n ? d->identity.v : NULL;
	out->nidentity = d->identity.n;
	out->pk = d->pk.n ? d->pk.v : NULL;
	out->npk = d->pk.n;
}

const char *
pgo_decoder_json(struct pgo_decoder *dec, const struct w2j_change *c,
				 size_t *len)
{
	buf_reset(&dec->json, PGO_KEEP_BYTES);
	changefmt_json(&dec->json, c);
	*len = dec->json.len;
	return dec->json.data;
}

int
pgo_decoder_truncate_flags(const struct pgo_decoder *dec)
{
	return dec->trunc_flags;
}

const char *
pgo_decoder_origin(const struct pgo_decoder *dec)
{
	return dec->origin;
}
