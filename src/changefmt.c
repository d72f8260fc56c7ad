/* changefmt.c: change records written back out as JSON lines. */
#include "walpipe/changefmt.h"

#include <string.h>

/* A string literal appended without strlen or a format: this runs for
 * every change pgoutput delivers. */
#define APPEND_LIT(out, lit) buf_append((out), (lit), sizeof(lit) - 1)

/* ,"key": */
static void
append_key(struct buf *out, const char *key)
{
	APPEND_LIT(out, ",\"");
	buf_append_str(out, key);
	APPEND_LIT(out, "\":");
}

static void
append_u32(struct buf *out, uint32_t v)
{
	char d[10];
	size_t n = 0;

	do {
		d[sizeof(d) - 1 - n++] = (char) ('0' + v % 10);
		v /= 10;
	} while (v);
	buf_append(out, d + sizeof(d) - n, n);
}

void
changefmt_value(struct buf *out, const struct w2j_column *col)
{
	switch (col->kind) {
	case W2J_NULL:
		buf_append_str(out, "null");
		break;
	case W2J_STRING:
		buf_append_json_string(out, col->value, col->value_len);
		break;
	case W2J_NUMBER:
	case W2J_BOOL:
		buf_append(out, col->value, col->value_len);
		break;
	}
}

static void
append_columns(struct buf *out, const char *key, const struct w2j_column *cols,
			   size_t n, bool with_values)
{
	append_key(out, key);
	buf_append_char(out, '[');
	for (size_t i = 0; i < n; i++) {
		const struct w2j_column *col = &cols[i];

		if (i > 0)
			buf_append_char(out, ',');
		APPEND_LIT(out, "{\"name\":");
		buf_append_json_string(out, col->name, col->name_len);
		if (col->type) {
			APPEND_LIT(out, ",\"type\":");
			buf_append_json_string(out, col->type, col->type_len);
		}
		if (with_values) {
			APPEND_LIT(out, ",\"value\":");
			changefmt_value(out, col);
		}
		buf_append_char(out, '}');
	}
	buf_append_char(out, ']');
}

static void
append_str_field(struct buf *out, const char *key, const char *v)
{
	append_key(out, key);
	buf_append_json_string(out, v, strlen(v));
}

void
changefmt_json(struct buf *out, const struct w2j_change *c)
{
	char lsn[LSN_STRLEN];

	APPEND_LIT(out, "{\"action\":\"");
	buf_append_char(out, (char) c->action);
	buf_append_char(out, '"');
	if (c->action == W2J_MESSAGE && !c->transactional) {
		/* wal2json's shape for a message outside any transaction. */
		APPEND_LIT(out, ",\"xid\":null,\"timestamp\":null");
	} else {
		if (c->xid) {
			APPEND_LIT(out, ",\"xid\":");
			append_u32(out, c->xid);
		}
		if (c->timestamp)
			append_str_field(out, "timestamp", c->timestamp);
	}
	if (c->lsn) {
		APPEND_LIT(out, ",\"lsn\":\"");
		buf_append_str(out, lsn_format(c->lsn, lsn));
		buf_append_char(out, '"');
	}
	switch (c->action) {
	case W2J_BEGIN:
	case W2J_COMMIT:
		if (c->nextlsn)
			buf_appendf(out, ",\"nextlsn\":\"%s\"",
						lsn_format(c->nextlsn, lsn));
		break;
	case W2J_MESSAGE:
		buf_appendf(out, ",\"transactional\":%s",
					c->transactional ? "true" : "false");
		append_str_field(out, "prefix", c->prefix ? c->prefix : "");
		buf_append_str(out, ",\"content\":");
		buf_append_json_string(out, c->content ? c->content : "",
							   c->content_len);
		break;
	case W2J_INSERT:
	case W2J_UPDATE:
	case W2J_DELETE:
	case W2J_TRUNCATE:
		append_str_field(out, "schema", c->schema ? c->schema : "");
		append_str_field(out, "table", c->table ? c->table : "");
		if (c->action == W2J_INSERT || c->action == W2J_UPDATE)
			append_columns(out, "columns", c->columns, c->ncolumns, true);
		if (c->nidentity)
			append_columns(out, "identity", c->identity, c->nidentity, true);
		if (c->npk)
			append_columns(out, "pk", c->pk, c->npk, false);
		break;
	}
	buf_append_char(out, '}');
}
