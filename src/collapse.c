/* collapse.c: a batch's changes to one mapped table merged per key, as COPY rows. */
#include "walpipe/collapse.h"

#include "walpipe/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct crow {
	char op;		/* 'U', 'P', 'M', 'D', 'X'; 'O', 'W' (keyless) */
	char sop;		/* source action of the last change: I, U, D */
	size_t change;	/* batch index of the last change merged */
	uint64_t hash;
	bool live;		/* false: superseded by a later row (key changed) */
	bool fresh;		/* the key's first change in the batch is an insert */
	size_t from;	/* 'M': index + 1 of the row holding the old key */
	size_t vals;	/* first slot in the value arrays */
};

struct collapse {
	struct crow *rows;
	size_t nrows, caprows;
	/* Per row, ntmp slots each: value (NULL = SQL NULL), length, present. */
	const char **val;
	uint32_t *len;
	bool *present;
	size_t nslots, capslots;
	size_t ntmp;
	/* Open-addressing hash: key -> row index + 1 (0 = empty). */
	size_t *table;
	size_t tabsize;
};

struct collapse *
collapse_new(void)
{
	return wp_calloc(1, sizeof(struct collapse));
}

void
collapse_free(struct collapse *c)
{
	if (c == NULL)
		return;
	free(c->rows);
	free(c->val);
	free(c->len);
	free(c->present);
	free(c->table);
	free(c);
}

void
collapse_reset(struct collapse *c)
{
	/* Keep up to ~64k rows of memory; release after a giant batch. */
	if (c->caprows > 65536) {
		free(c->rows);
		c->rows = NULL;
		c->caprows = 0;
	}
	if (c->capslots > 65536 * 16) {
		free(c->val);
		free(c->len);
		free(c->present);
		c->val = NULL;
		c->len = NULL;
		c->present = NULL;
		c->capslots = 0;
	}
	if (c->tabsize > 131072) {
		free(c->table);
		c->table = NULL;
		c->tabsize = 0;
	} else if (c->table) {
		memset(c->table, 0, c->tabsize * sizeof(size_t));
	}
	c->nrows = c->nslots = 0;
}

size_t
collapse_count(const struct collapse *c)
{
	return c->nrows;
}

static uint64_t
hash_bytes(uint64_t h, const char *s, size_t n)
{
	/* FNV-1a */
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char) s[i];
		h *= UINT64_C(1099511628211);
	}
	return h;
}

/* Find the change's column by name; hint: the same position as tmp k. */
static const struct batch_col *
find_col(const struct batch *b, const struct batch_col *cols, size_t n,
		 const char *name, size_t hint)
{
	if (hint < n && strcmp(batch_text(b, cols[hint].name), name) == 0)
		return &cols[hint];
	for (size_t i = 0; i < n; i++)
		if (strcmp(batch_text(b, cols[i].name), name) == 0)
			return &cols[i];
	return NULL;
}

static size_t
new_row(struct collapse *c, char op, char sop, size_t change)
{
	struct crow *r;

	if (c->nrows == c->caprows) {
		c->caprows = c->caprows ? c->caprows * 2 : 256;
		c->rows = wp_realloc(c->rows, c->caprows * sizeof(*c->rows));
	}
	if (c->nslots + c->ntmp > c->capslots) {
		size_t cap = c->capslots ? c->capslots : 1024;

		while (cap < c->nslots + c->ntmp)
			cap *= 2;
		c->val = wp_realloc(c->val, cap * sizeof(*c->val));
		c->len = wp_realloc(c->len, cap * sizeof(*c->len));
		c->present = wp_realloc(c->present, cap * sizeof(*c->present));
		c->capslots = cap;
	}
	r = &c->rows[c->nrows];
	r->op = op;
	r->sop = sop;
	r->change = change;
	r->fresh = false;
	r->hash = 0;
	r->live = true;
	r->from = 0;
	r->vals = c->nslots;
	for (size_t k = 0; k < c->ntmp; k++) {
		c->val[c->nslots + k] = NULL;
		c->len[c->nslots + k] = 0;
		c->present[c->nslots + k] = false;
	}
	c->nslots += c->ntmp;
	return c->nrows++;
}

/*
 * Fill the slots of row that are not present yet from cols; returns true
 * if the row is then complete.  On a new row that is every column of a
 * change; on a filled one (an update's new row, then its identity) it
 * takes only what the row lacks: a column an update leaves out is
 * unchanged, so the old row's value is its value (a replica identity
 * column stored out of line, which PostgreSQL logs in the identity; every
 * column under REPLICA IDENTITY FULL).
 */
static bool
fill_row(struct collapse *c, size_t row, const struct batch *b,
		 const struct batch_col *cols, size_t n, const struct map_plan *p)
{
	size_t base = c->rows[row].vals;
	bool all = true;

	for (size_t k = 0; k < c->ntmp; k++) {
		const struct batch_col *bc;

		if (c->present[base + k])
			continue;
		bc = find_col(b, cols, n, p->tmp_cols[k], k);
		if (bc == NULL) {
			all = false;
			continue;
		}
		c->val[base + k] = batch_text(b, bc->value);
		c->len[base + k] = bc->value_len;
		c->present[base + k] = true;
	}
	return all;
}

/*
 * An insert carries every column its row had when it was written, so a
 * column it lacks was added to the table later (run.c's shape check lets
 * only such inserts through), and the source row holds that column's
 * missing value now.  Filling it in keeps the row full: as a partial
 * update of a key the target does not hold yet, the row would be lost.
 */
static void
fill_missing(struct collapse *c, size_t row, const struct map_plan *p,
			 const struct map_srccol *src)
{
	size_t base = c->rows[row].vals;

	for (size_t k = 0; k < c->ntmp; k++) {
		const char *m = src[p->tmp_src[k]].missing;

		if (c->present[base + k])
			continue;
		c->val[base + k] = m;
		c->len[base + k] = m ? (uint32_t) strlen(m) : 0;
		c->present[base + k] = true;
	}
}

/* Key hash and equality over the plan's key columns (srccols[].key). */
static uint64_t
key_hash(const struct collapse *c, size_t row, const struct map_plan *p,
		 const struct map_srccol *src)
{
	uint64_t h = UINT64_C(14695981039346656037);
	size_t base = c->rows[row].vals;

	for (size_t k = 0; k < c->ntmp; k++) {
		if (!src[p->tmp_src[k]].key)
			continue;
		if (c->val[base + k])
			h = hash_bytes(h, c->val[base + k], c->len[base + k]);
		h = hash_bytes(h, c->val[base + k] ? "\1" : "\2", 1);
	}
	return h;
}

static bool
key_equal(const struct collapse *c, size_t a, size_t b2,
		  const struct map_plan *p, const struct map_srccol *src)
{
	size_t ba = c->rows[a].vals, bb = c->rows[b2].vals;

	for (size_t k = 0; k < c->ntmp; k++) {
		const char *x = c->val[ba + k], *y = c->val[bb + k];

		if (!src[p->tmp_src[k]].key)
			continue;
		if ((x == NULL) != (y == NULL))
			return false;
		if (x && (c->len[ba + k] != c->len[bb + k] ||
				  memcmp(x, y, c->len[ba + k]) != 0))
			return false;
	}
	return true;
}

static void
table_grow(struct collapse *c)
{
	size_t size = c->tabsize ? c->tabsize * 2 : 1024;
	size_t *t = wp_calloc(size, sizeof(size_t));

	for (size_t i = 0; i < c->tabsize; i++) {
		size_t r = c->table[i];

		if (r) {
			size_t j = c->rows[r - 1].hash & (size - 1);

			while (t[j])
				j = (j + 1) & (size - 1);
			t[j] = r;
		}
	}
	free(c->table);
	c->table = t;
	c->tabsize = size;
}

/*
 * Look up the live row with row's key.  Returns its index, or, if there
 * is none, registers row itself and returns it.
 */
static size_t
table_find_or_add(struct collapse *c, size_t row, const struct map_plan *p,
				  const struct map_srccol *src)
{
	size_t j;

	if ((c->nrows + 1) * 2 > c->tabsize)
		table_grow(c);
	c->rows[row].hash = key_hash(c, row, p, src);
	j = c->rows[row].hash & (c->tabsize - 1);
	while (c->table[j]) {
		size_t r = c->table[j] - 1;

		if (r != row && c->rows[r].hash == c->rows[row].hash &&
			key_equal(c, r, row, p, src))
			return r;
		j = (j + 1) & (c->tabsize - 1);
	}
	c->table[j] = row + 1;
	return row;
}

/* Forget the last row (a scratch row merged into another, or a trial). */
static void
drop_last(struct collapse *c)
{
	c->nrows--;
	c->nslots -= c->ntmp;
}

/*
 * Merge the scratch row (last) into the existing row of the same key.
 * soft: the mapping soft-deletes, so a delete after an insert or update
 * keeps that row's values (it is upserted, then marked) and only records
 * the delete in sop.
 */
static void
merge_into(struct collapse *c, size_t into, size_t from, bool soft)
{
	struct crow *dst = &c->rows[into], *src = &c->rows[from];
	size_t bd = dst->vals, bs = src->vals;

	if (soft && src->op == 'D' && dst->op != 'D') {
		dst->sop = 'D';
		dst->change = src->change;
		drop_last(c);
		return;
	}
	if (src->op == 'U' || src->op == 'D' || dst->op == 'D') {
		/* A full row or a delete replaces; a partial after a delete
		 * cannot happen in a consistent stream: keep it partial. */
		memcpy(&c->val[bd], &c->val[bs], c->ntmp * sizeof(*c->val));
		memcpy(&c->len[bd], &c->len[bs], c->ntmp * sizeof(*c->len));
		memcpy(&c->present[bd], &c->present[bs],
			   c->ntmp * sizeof(*c->present));
		dst->op = src->op;
		dst->from = src->from;
	} else {
		for (size_t k = 0; k < c->ntmp; k++) {
			if (!c->present[bs + k])
				continue;
			c->val[bd + k] = c->val[bs + k];
			c->len[bd + k] = c->len[bs + k];
			c->present[bd + k] = true;
		}
		/* 'U' + partial stays 'U'; 'P' or 'M' + partial stays so. */
	}
	dst->sop = src->sop;
	dst->change = src->change;
	/* Drop the scratch row: it is the last one. */
	drop_last(c);
}

static void
add_keyed(struct collapse *c, size_t row, const struct map_plan *p,
		  const struct map_srccol *src)
{
	size_t found = table_find_or_add(c, row, p, src);

	if (found != row)
		merge_into(c, found, row, p->soft_delete);
}

/* Whether an update's identity holds another key than its new row. */
static bool
key_moved(const struct batch *b, const struct batch_change *ch,
		  const struct map_plan *p, const struct map_srccol *src)
{
	const struct batch_col *cols = batch_cols(b, ch);
	const struct batch_col *ident = batch_ident(b, ch);

	for (size_t k = 0; k < p->ntmp; k++) {
		const struct batch_col *o, *n;

		if (!src[p->tmp_src[k]].key)
			continue;
		o = find_col(b, ident, ch->nident, p->tmp_cols[k], k);
		n = find_col(b, cols, ch->ncols, p->tmp_cols[k], k);
		/* Absent from the new row: unchanged (an out-of-line value). */
		if (o == NULL || n == NULL)
			continue;
		if ((o->value == UINT32_MAX) != (n->value == UINT32_MAX) ||
			(o->value != UINT32_MAX &&
			 (o->value_len != n->value_len ||
			  memcmp(batch_text(b, o->value), batch_text(b, n->value),
					 o->value_len) != 0)))
			return true;
	}
	return false;
}

/*
 * An update (merge mode).  Columns it leaves out are taken from its
 * identity where that has them.  If it keeps its key it merges like any
 * row ('U' if complete, else 'P').  If it moves the row to a new key, the
 * old key becomes a delete and the new key's row takes the columns the
 * update left out from what the batch knows of the old key: a full row
 * makes it full; otherwise it becomes 'M', completed at apply time from
 * the target row at the old key (the row the old key had before this
 * batch, held by row `from`).  PostgreSQL's apply worker keeps the
 * unchanged columns of a row whose key changes; so does this.
 */
static void
add_update(struct collapse *c, const struct batch *b, size_t idx,
		   const struct map_plan *p, const struct map_srccol *src)
{
	const struct batch_change *ch = batch_get(b, idx);
	const struct batch_col *ident = batch_ident(b, ch);
	size_t row, old, ob, nb;
	bool full;

	if (ch->nident == 0 || !key_moved(b, ch, p, src)) {
		row = new_row(c, 'U', ch->op, idx);
		full = fill_row(c, row, b, batch_cols(b, ch), ch->ncols, p);
		if (!full && ch->nident > 0)
			full = fill_row(c, row, b, ident, ch->nident, p);
		if (!full)
			c->rows[row].op = 'P';
		add_keyed(c, row, p, src);
		return;
	}

	/* The old key's row: one of this batch, or a new delete. */
	row = new_row(c, 'D', 'U', idx);
	fill_row(c, row, b, ident, ch->nident, p);
	old = table_find_or_add(c, row, p, src);
	if (old != row)
		drop_last(c);

	row = new_row(c, 'U', ch->op, idx);
	full = fill_row(c, row, b, batch_cols(b, ch), ch->ncols, p);
	if (!full)
		full = fill_row(c, row, b, ident, ch->nident, p);
	ob = c->rows[old].vals;
	nb = c->rows[row].vals;
	if (!full && c->rows[old].op != 'D') {
		full = true;
		for (size_t k = 0; k < c->ntmp; k++) {
			if (c->present[nb + k])
				continue;
			if (!c->present[ob + k]) {
				full = false;
				continue;
			}
			c->val[nb + k] = c->val[ob + k];
			c->len[nb + k] = c->len[ob + k];
			c->present[nb + k] = true;
		}
	}
	if (!full) {
		c->rows[row].op = 'M';
		c->rows[row].from = c->rows[old].op == 'M' ? c->rows[old].from
												   : old + 1;
	}

	/* The old key is deleted; a soft delete keeps a row of this batch
	 * and marks it (merge_into). */
	if (p->soft_delete && c->rows[old].op != 'D') {
		c->rows[old].sop = 'D';
	} else {
		c->rows[old].op = 'D';
		c->rows[old].sop = 'U';
		c->rows[old].from = 0;
	}
	c->rows[old].change = idx;
	add_keyed(c, row, p, src);
}

void
collapse_add(struct collapse *c, const struct batch *b, size_t idx,
			 const struct map_plan *p, const struct map_srccol *src,
			 bool merge)
{
	const struct batch_change *ch = batch_get(b, idx);
	const struct batch_col *cols = batch_cols(b, ch);
	const struct batch_col *ident = batch_ident(b, ch);
	char sop = ch->op;
	size_t row;
	bool full;

	if (c->nrows == 0)
		c->ntmp = p->ntmp;

	if (ch->action == W2J_DELETE) {
		row = new_row(c, 'D', sop, idx);
		fill_row(c, row, b, ident, ch->nident, p);
		if (merge)
			add_keyed(c, row, p, src);
		return;
	}

	if (merge && ch->action == W2J_UPDATE) {
		add_update(c, b, idx, p, src);
		return;
	}
	/* A keyless mapping finds the row to change by its old values: the
	 * update's identity (every column under REPLICA IDENTITY FULL) goes
	 * first, as an 'O' row, its new row next ('W'), columns it leaves
	 * out (unchanged TOAST) taken from the identity. */
	if (ch->action == W2J_UPDATE && p->rule &&
		p->rule->mode == MAP_MODE_KEYLESS) {
		row = new_row(c, 'O', sop, idx);
		fill_row(c, row, b, ident, ch->nident, p);
		row = new_row(c, 'W', sop, idx);
		if (!fill_row(c, row, b, cols, ch->ncols, p))
			fill_row(c, row, b, ident, ch->nident, p);
		return;
	}

	row = new_row(c, 'U', sop, idx);
	full = fill_row(c, row, b, cols, ch->ncols, p);
	if (!full && ch->action == W2J_INSERT) {
		fill_missing(c, row, p, src);
		full = true;
	}
	/* An appended update: its identity has the columns it left out
	 * under REPLICA IDENTITY FULL (add_update does the same). */
	if (!full && ch->nident > 0)
		full = fill_row(c, row, b, ident, ch->nident, p);
	if (!full)
		c->rows[row].op = 'P';
	/* Merging keeps the first row's freshness: a key deleted and then
	 * inserted again in the batch may exist in the target. */
	c->rows[row].fresh = merge && ch->action == W2J_INSERT;
	if (merge)
		add_keyed(c, row, p, src);
}

/* The op a row goes out with: a full row of a key first inserted in this
 * batch is 'N' (see map.h: insert_new). */
static char
row_op(const struct crow *r)
{
	return r->op == 'U' && r->fresh ? 'N' : r->op;
}

/* COPY text escaping of one value; bytea gets the \x prefix wal2json
 * leaves out (it sends plain hex digits). */
static void
copy_value(struct buf *out, const char *v, size_t n, bool bytea)
{
	size_t run = 0;

	if (v == NULL) {
		buf_append_str(out, "\\N");
		return;
	}
	if (bytea)
		buf_append_str(out, "\\\\x");
	for (size_t i = 0; i < n; i++) {
		const char *esc;

		switch (v[i]) {
		case '\\': esc = "\\\\"; break;
		case '\t': esc = "\\t"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		default: continue;
		}
		buf_append(out, v + run, i - run);
		buf_append_str(out, esc);
		run = i + 1;
	}
	buf_append(out, v + run, n - run);
}

/* Decimal digits of v into out (no NUL); returns their number. */
static size_t
fmt_u64(char *out, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do {
		tmp[n++] = (char) ('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

void
collapse_copy_text(const struct collapse *c, const struct batch *b,
				   const struct map_plan *p, const struct map_srccol *src,
				   size_t first, size_t last, bool skip_new, struct buf *out)
{
	for (size_t i = first; i <= last && i < c->nrows; i++) {
		const struct crow *r = &c->rows[i];
		const struct batch_change *ch = batch_get(b, r->change);
		const char *ts = batch_text(b, ch->commit_time);
		char lsn[LSN_STRLEN];

		char num[24];
		char ops[6] = {'\t', row_op(r), '\t', r->sop, '\t', '\0'};

		if (skip_new && ops[1] == 'N')
			continue;
		/* No printf: this runs for every row of every batch. */
		buf_append(out, num, fmt_u64(num, (uint64_t) i + 1));
		buf_append(out, ops, 5);
		/* Metadata no statement reads goes as NULL (map_plan). */
		if (p->copy_lsn)
			buf_append_str(out, lsn_format(ch->lsn, lsn));
		else
			buf_append_str(out, "\\N");
		buf_append_char(out, '\t');
		if (p->copy_xid)
			buf_append(out, num, fmt_u64(num, ch->xid));
		else
			buf_append_str(out, "\\N");
		buf_append_char(out, '\t');
		if (p->copy_ts)
			copy_value(out, ts, ts ? strlen(ts) : 0, false);
		else
			buf_append_str(out, "\\N");
		/* Presence flags matter to partial rows only (the statements
		 * for 'P' and 'M' rows read them); other rows send NULL, which
		 * spares the server an array parse per row. */
		if (r->op == 'P' || r->op == 'M') {
			buf_append_str(out, "\t{");
			for (size_t k = 0; k < c->ntmp; k++)
				buf_append_str(out, k ? (!c->present[r->vals + k] ? ",f"
																   : ",t")
									  : (!c->present[r->vals] ? "f" : "t"));
			buf_append_char(out, '}');
		} else
			buf_append_str(out, "\t\\N");
		buf_append_char(out, '\t');
		if (r->from)
			buf_append(out, num, fmt_u64(num, (uint64_t) r->from));
		else
			buf_append_str(out, "\\N");
		for (size_t k = 0; k < c->ntmp; k++) {
			buf_append_char(out, '\t');
			copy_value(out, c->val[r->vals + k], c->len[r->vals + k],
					   map_plan_tmp_is_bytea(p, src, k));
		}
		buf_append_char(out, '\n');
	}
}

void
collapse_copy_new(const struct collapse *c, const struct map_plan *p,
				  const struct map_srccol *src, size_t first, size_t last,
				  struct buf *out)
{
	for (size_t i = first; i <= last && i < c->nrows; i++) {
		const struct crow *r = &c->rows[i];

		if (row_op(r) != 'N')
			continue;
		for (size_t col = 0; col < p->ncols; col++) {
			size_t k = p->copy_new_tmp[col];

			if (col)
				buf_append_char(out, '\t');
			copy_value(out, c->val[r->vals + k], c->len[r->vals + k],
					   map_plan_tmp_is_bytea(p, src, k));
		}
		buf_append_char(out, '\n');
	}
}

size_t
collapse_change_of(const struct collapse *c, size_t seq)
{
	return c->rows[seq - 1].change;
}

char
collapse_op_of(const struct collapse *c, size_t seq)
{
	return row_op(&c->rows[seq - 1]);
}

size_t
collapse_check(struct collapse *c, const struct map_plan *p)
{
	size_t bad = 0;
	char err[8];

	for (size_t i = 0; i < c->nrows; i++) {
		struct crow *r = &c->rows[i];

		if ((r->op == 'P' || r->op == 'M') &&
			!map_plan_partial_ok(p, &c->present[r->vals], err, sizeof(err))) {
			r->op = 'X';
			bad++;
		}
	}
	return bad;
}

const bool *
collapse_present_of(const struct collapse *c, size_t seq)
{
	return &c->present[c->rows[seq - 1].vals];
}
