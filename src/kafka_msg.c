/* kafka_msg.c: Kafka message encoding of a change: topic, key, Debezium envelope. */
#include "walpipe/kafka_msg.h"

#include "walpipe/changefmt.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Kafka refuses longer topic names (the broker's TopicNameValidator). */
#define KAFKA_TOPIC_MAX 249

static const char *const placeholders[] = {"{source}", "{schema}", "{table}"};

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

bool
kafka_msg_key(struct buf *out, const struct w2j_change *c)
{
	size_t start = out->len;

	if (c->npk == 0 || c->action == W2J_TRUNCATE)
		return false;
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
		changefmt_value(out, v);
	}
	buf_append_char(out, '}');
	return true;
}

static void
append_row(struct buf *out, const struct w2j_column *cols, size_t n)
{
	buf_append_char(out, '{');
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_append_char(out, ',');
		buf_append_json_string(out, cols[i].name, cols[i].name_len);
		buf_append_char(out, ':');
		changefmt_value(out, &cols[i]);
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

void
kafka_msg_debezium(struct buf *out, const struct w2j_change *c,
				   const struct kafka_msg_ctx *ctx)
{
	const char *schema = c->schema ? c->schema : "";
	const char *table = c->table ? c->table : "";

	buf_append_str(out, "{\"before\":");
	if ((c->action == W2J_UPDATE || c->action == W2J_DELETE) &&
		c->nidentity > 0)
		append_row(out, c->identity, c->nidentity);
	else
		buf_append_str(out, "null");
	buf_append_str(out, ",\"after\":");
	if (c->action == W2J_INSERT || c->action == W2J_UPDATE)
		append_row(out, c->columns, c->ncolumns);
	else
		buf_append_str(out, "null");
	buf_append_str(out, ",\"source\":{\"version\":\"walpipe\","
						"\"connector\":\"postgresql\",\"name\":");
	buf_append_json_string(out, ctx->source ? ctx->source : "",
						   ctx->source ? strlen(ctx->source) : 0);
	if (ctx->commit_ms >= 0)
		buf_appendf(out, ",\"ts_ms\":%" PRId64, ctx->commit_ms);
	else
		buf_append_str(out, ",\"ts_ms\":null");
	buf_append_str(out, ",\"snapshot\":\"false\",\"schema\":");
	buf_append_json_string(out, schema, strlen(schema));
	buf_append_str(out, ",\"table\":");
	buf_append_json_string(out, table, strlen(table));
	buf_appendf(out, ",\"txId\":%" PRIu32 ",\"lsn\":%" PRIu64 "}", c->xid,
				(uint64_t) c->lsn);
	buf_appendf(out, ",\"op\":\"%c\",\"ts_ms\":%" PRId64 ",\"transaction\":null}",
				kafka_msg_op(c), ctx->now_ms);
}
