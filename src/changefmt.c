/* changefmt.c: change records written back out as JSON lines. */
#include "walpipe/changefmt.h"

#include <string.h>

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
	buf_appendf(out, ",\"%s\":[", key);
	for (size_t i = 0; i < n; i++) {
		const struct w2j_column *col = &cols[i];

		if (i > 0)
			buf_append_char(out, ',');
		buf_append_str(out, "{\"name\":");
		buf_append_json_string(out, col->name, col->name_len);
		if (col->type) {
			buf_append_str(out, ",\"type\":");
			buf_append_json_string(out, col->type, col->type_len);
		}
		if (with_values) {
			buf_append_str(out, ",\"value\":");
			changefmt_value(out, col);
		}
		buf_append_char(out, '}');
	}
	buf_append_char(out, ']');
}

static void
append_str_field(struct buf *out, const char *key, const char *v)
{
	buf_appendf(out, ",\"%s\":", key);
	buf_append_json_string(out, v, strlen(v));
}

void
changefmt_json(struct buf *out, const struct w2j_change *c)
{
	char lsn[LSN_STRLEN];

	buf_appendf(out, "{\"action\":\"%c\"", (char) c->action);
	if (c->action == W2J_MESSAGE && !c->transactional) {
		/* wal2json's shape for a message outside any transaction. */
		buf_append_str(out, ",\"xid\":null,\"timestamp\":null");
	} else {
		if (c->xid)
			buf_appendf(out, ",\"xid\":%u", c->xid);
		if (c->timestamp)
			append_str_field(out, "timestamp", c->timestamp);
	}
	if (c->lsn)
		buf_appendf(out, ",\"lsn\":\"%s\"", lsn_format(c->lsn, lsn));
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
