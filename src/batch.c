/* batch.c: the changes of one apply batch, copied out of the decoder's scratch. */
#include "walpipe/batch.h"

#include "walpipe/buf.h"
#include "walpipe/changefmt.h"
#include "walpipe/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_TEXT UINT32_MAX

struct batch {
	struct buf text; /* all strings, NUL-terminated */
	struct batch_change *changes;
	size_t nchanges, cap_changes;
	struct batch_col *cols;
	size_t ncols, cap_cols;
	size_t keep_bytes;
	/* batch_json's columns: kept, and grown to the widest change, so that
	 * writing a change's JSON allocates nothing.  Behind a pointer so that
	 * batch_json keeps taking a const batch. */
	struct batch_scratch *scratch;
};

struct batch_scratch {
	struct w2j_column *cols;
	size_t cap;
};

struct batch *
batch_new(size_t keep_bytes)
{
	struct batch *b = wp_calloc(1, sizeof(*b));

	b->keep_bytes = keep_bytes;
	b->scratch = wp_calloc(1, sizeof(*b->scratch));
	return b;
}

void
batch_free(struct batch *b)
{
	if (b == NULL)
		return;
	buf_free(&b->text);
	free(b->changes);
	free(b->cols);
	free(b->scratch->cols);
	free(b->scratch);
	free(b);
}

static uint32_t
put_text(struct batch *b, const char *s, size_t n)
{
	uint32_t off;

	if (s == NULL)
		return NO_TEXT;
	off = (uint32_t) b->text.len;
	buf_append(&b->text, s, n);
	buf_append_char(&b->text, '\0');
	return off;
}

static uint32_t
put_cols(struct batch *b, const struct w2j_column *src, size_t n)
{
	uint32_t first = (uint32_t) b->ncols;

	if (b->ncols + n > b->cap_cols) {
		size_t cap = b->cap_cols ? b->cap_cols : 256;

		while (cap < b->ncols + n)
			cap *= 2;
		b->cols = wp_realloc(b->cols, cap * sizeof(*b->cols));
		b->cap_cols = cap;
	}
	for (size_t i = 0; i < n; i++) {
		struct batch_col *c = &b->cols[b->ncols++];

		c->name = put_text(b, src[i].name, src[i].name_len);
		c->type = put_text(b, src[i].type, src[i].type_len);
		c->kind = src[i].kind;
		c->value = src[i].kind == W2J_NULL
					   ? NO_TEXT
					   : put_text(b, src[i].value, src[i].value_len);
		c->value_len = (uint32_t) src[i].value_len;
	}
	return first;
}

bool
batch_add(struct batch *b, const struct w2j_change *c, const char *json,
		  size_t len, lsn_t txn_end, uint64_t txn_pos, const char *commit_time,
		  char *errbuf, size_t errlen)
{
	struct batch_change *bc;
	size_t need = json ? len * 3 : 0;

	/* Without the JSON, the column copies are what is added. */
	for (size_t i = 0; !json && i < c->ncolumns + c->nidentity + c->npk; i++) {
		const struct w2j_column *col =
			i < c->ncolumns ? &c->columns[i]
			: i < c->ncolumns + c->nidentity
				? &c->identity[i - c->ncolumns]
				: &c->pk[i - c->ncolumns - c->nidentity];

		need += col->name_len + col->type_len + col->value_len + 3;
	}
	if (b->text.len + need + c->content_len + 4096 > UINT32_MAX) {
		snprintf(errbuf, errlen,
				 "batch text would exceed 4 GiB; lower batch.max_bytes");
		return false;
	}
	if (b->nchanges == b->cap_changes) {
		b->cap_changes = b->cap_changes ? b->cap_changes * 2 : 1024;
		b->changes =
			wp_realloc(b->changes, b->cap_changes * sizeof(*b->changes));
	}
	bc = &b->changes[b->nchanges++];
	memset(bc, 0, sizeof(*bc));
	bc->action = c->action;
	bc->op = (char) c->action;
	bc->xid = c->xid;
	bc->lsn = c->lsn;
	bc->txn_end = txn_end;
	bc->txn_pos = txn_pos;
	bc->commit_time =
		commit_time ? put_text(b, commit_time, strlen(commit_time)) : NO_TEXT;
	bc->schema = c->schema ? put_text(b, c->schema, strlen(c->schema))
						   : NO_TEXT;
	bc->table = c->table ? put_text(b, c->table, strlen(c->table)) : NO_TEXT;
	bc->json = put_text(b, json, len);
	bc->json_len = (uint32_t) len;
	bc->cols = put_cols(b, c->columns, c->ncolumns);
	bc->ncols = (uint32_t) c->ncolumns;
	bc->ident = put_cols(b, c->identity, c->nidentity);
	bc->nident = (uint32_t) c->nidentity;
	bc->pk = put_cols(b, c->pk, c->npk);
	bc->npk = (uint32_t) c->npk;
	bc->transactional = c->transactional;
	bc->prefix = c->prefix ? put_text(b, c->prefix, strlen(c->prefix))
						   : NO_TEXT;
	bc->content = c->content ? put_text(b, c->content, c->content_len)
							 : NO_TEXT;
	bc->content_len = (uint32_t) c->content_len;
	return true;
}

void
batch_mark_snapshot(struct batch *b, char op)
{
	if (b->nchanges > 0)
		b->changes[b->nchanges - 1].op = op;
}

size_t
batch_count(const struct batch *b)
{
	return b->nchanges;
}

size_t
batch_bytes(const struct batch *b)
{
	return b->text.len + b->ncols * sizeof(struct batch_col) +
		   b->nchanges * sizeof(struct batch_change);
}

const struct batch_change *
batch_get(const struct batch *b, size_t i)
{
	return i < b->nchanges ? &b->changes[i] : NULL;
}

const struct batch_col *
batch_cols(const struct batch *b, const struct batch_change *c)
{
	return c->ncols ? &b->cols[c->cols] : NULL;
}

const struct batch_col *
batch_ident(const struct batch *b, const struct batch_change *c)
{
	return c->nident ? &b->cols[c->ident] : NULL;
}

const char *
batch_text(const struct batch *b, uint32_t off)
{
	return off == NO_TEXT ? NULL : b->text.data + off;
}

void
batch_reset(struct batch *b)
{
	buf_reset(&b->text, b->keep_bytes);
	b->nchanges = 0;
	b->ncols = 0;
	if (b->cap_changes * sizeof(struct batch_change) > b->keep_bytes) {
		free(b->changes);
		b->changes = NULL;
		b->cap_changes = 0;
	}
	if (b->cap_cols * sizeof(struct batch_col) > b->keep_bytes) {
		free(b->cols);
		b->cols = NULL;
		b->cap_cols = 0;
	}
	if (b->scratch->cap * sizeof(struct w2j_column) > b->keep_bytes) {
		free(b->scratch->cols);
		b->scratch->cols = NULL;
		b->scratch->cap = 0;
	}
}

/* The copy's columns first..first+n as decoded columns, into cols. */
static void
view_cols(const struct batch *b, uint32_t first, uint32_t n,
		  struct w2j_column *cols)
{
	for (uint32_t i = 0; i < n; i++) {
		const struct batch_col *bc = &b->cols[first + i];

		memset(&cols[i], 0, sizeof(cols[i]));
		cols[i].name = batch_text(b, bc->name);
		cols[i].name_len = strlen(cols[i].name);
		cols[i].type = batch_text(b, bc->type);
		cols[i].type_len = cols[i].type ? strlen(cols[i].type) : 0;
		cols[i].kind = bc->kind;
		cols[i].value = batch_text(b, bc->value);
		cols[i].value_len = bc->value_len;
	}
}

size_t
batch_view_columns(const struct batch_change *c)
{
	return (size_t) c->ncols + c->nident + c->npk;
}

void
batch_view(const struct batch *b, const struct batch_change *c,
		   struct w2j_change *out, struct w2j_column *cols)
{
	view_cols(b, c->cols, c->ncols, cols);
	view_cols(b, c->ident, c->nident, cols + c->ncols);
	view_cols(b, c->pk, c->npk, cols + c->ncols + c->nident);
	memset(out, 0, sizeof(*out));
	out->action = c->action;
	out->xid = c->xid;
	out->lsn = c->lsn;
	out->timestamp = batch_text(b, c->commit_time);
	out->schema = batch_text(b, c->schema);
	out->table = batch_text(b, c->table);
	out->columns = cols;
	out->ncolumns = c->ncols;
	out->identity = cols + c->ncols;
	out->nidentity = c->nident;
	out->pk = cols + c->ncols + c->nident;
	out->npk = c->npk;
	out->transactional = c->transactional;
	out->prefix = batch_text(b, c->prefix);
	out->content = batch_text(b, c->content);
	out->content_len = c->content_len;
}

void
batch_json(const struct batch *b, const struct batch_change *c,
		   struct buf *out)
{
	struct batch_scratch *sc = b->scratch;
	size_t need = batch_view_columns(c) + 1;
	struct w2j_change w;

	if (c->json != NO_TEXT) {
		buf_append(out, batch_text(b, c->json), c->json_len);
		return;
	}
	if (need > sc->cap) {
		sc->cap = sc->cap ? sc->cap : 64;
		while (sc->cap < need)
			sc->cap *= 2;
		free(sc->cols);
		sc->cols = wp_malloc(sc->cap * sizeof(*sc->cols));
	}
	batch_view(b, c, &w, sc->cols);
	changefmt_json(out, &w);
}
