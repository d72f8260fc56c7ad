/* test_kafka_msg.c: unit tests of the Kafka message encoding: topics, keys, Debezium envelopes. */
#include "walpipe/kafka_msg.h"

#include "walpipe/wal2json.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const struct {
	const char *tmpl, *schema, *table, *topic;
} topics[] = {
	{"{source}.{schema}.{table}", "public", "users", "shop.public.users"},
	{"cdc-{table}", "public", "order_events", "cdc-order_events"},
	{"all", "public", "users", "all"},
	/* Characters a topic cannot hold become '_', as in Debezium. */
	{"{source}.{schema}.{table}", "Sales Data", "naïve$t", "shop.Sales_Data.na__ve_t"},
	{"{table}{table}", "s", "t", "tt"},
};

static void
test_topics(void **state)
{
	char big[400];
	struct buf b = BUF_INIT;

	(void) state;
	for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
		buf_reset(&b, 0);
		kafka_msg_topic(&b, topics[i].tmpl, "shop", topics[i].schema,
						topics[i].table);
		assert_string_equal(b.data, topics[i].topic);
	}
	/* Cut at Kafka's 249 characters. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_reset(&b, 0);
	kafka_msg_topic(&b, "{source}.{table}", "shop", "s", big);
	assert_int_equal(b.len, 249);
	buf_free(&b);
}

static const struct {
	const char *tmpl, *error; /* NULL: valid */
} templates[] = {
	{"{source}.{schema}.{table}", NULL},
	{"plain", NULL},
	{"{tabel}", "unknown placeholder \"{tabel}\" in topic template; valid are "
				"{source}, {schema} and {table}"},
	{"x.{table", "unknown placeholder \"{table\" in topic template; valid "
				 "are {source}, {schema} and {table}"},
	{"x}", "unmatched \"}\" in topic template \"x}\""},
	{"", "the topic template is empty"},
};

static void
test_templates(void **state)
{
	char err[256];

	(void) state;
	for (size_t i = 0; i < sizeof(templates) / sizeof(templates[0]); i++) {
		bool ok = kafka_msg_topic_valid(templates[i].tmpl, err, sizeof(err));

		assert_int_equal(ok, templates[i].error == NULL);
		if (!ok)
			assert_string_equal(err, templates[i].error);
	}
}

/*
 * tests/data/kafka/envelopes.txt: cases of three lines, "in:" a wal2json
 * message, "key:" the expected key ("-" for none), "debezium:" the
 * expected envelope, with source "shop", db "shopdb", commit_ms 1000 and
 * now_ms 2000.  Before a case, optional lines set its context:
 *   cols: NAME|TYPE|NULLABLE(0/1)[|ENUM LABELS]; ...   the catalog's table
 *   opts: WORD ...   schemas, decimal=string|double, time=connect,
 *                    placeholder=TEXT, op=r, snapshot=TEXT, topic=NAME,
 *                    txn=ID,TOTAL,DATA_COLLECTION_ORDER
 */
static char *
after_prefix(char *line, const char *prefix)
{
	size_t n = strlen(prefix);

	assert_memory_equal(line, prefix, n);
	line[strcspn(line, "\n")] = '\0';
	return line + n;
}

struct case_ctx {
	char cols_text[4096], opts_text[1024];
	struct kafka_column cols[32];
	struct kafka_table tab;
	struct kafka_txn_block txn;
	char txn_id[64];
};

static void
parse_cols(struct case_ctx *cc, struct kafka_msg_ctx *ctx)
{
	char *save = NULL, *col;
	size_t n = 0;

	for (col = strtok_r(cc->cols_text, ";", &save); col && n < 32;
		 col = strtok_r(NULL, ";", &save)) {
		char *f[4] = {NULL, NULL, NULL, NULL}, *s2 = NULL;
		int i = 0;

		while (*col == ' ')
			col++;
		for (char *t = strtok_r(col, "|", &s2); t && i < 4;
			 t = strtok_r(NULL, "|", &s2))
			f[i++] = t;
		assert_true(i >= 3);
		cc->cols[n].name = f[0];
		cc->cols[n].type = f[1];
		cc->cols[n].optional = f[2][0] == '1';
		cc->cols[n].enum_values = f[3];
		n++;
	}
	cc->tab.cols = cc->cols;
	cc->tab.ncols = n;
	ctx->table = &cc->tab;
}

static void
parse_opts(struct case_ctx *cc, struct kafka_msg_ctx *ctx)
{
	char *save = NULL;

	for (char *w = strtok_r(cc->opts_text, " ", &save); w;
		 w = strtok_r(NULL, " ", &save)) {
		if (strcmp(w, "schemas") == 0)
			ctx->schemas = true;
		else if (strcmp(w, "decimal=string") == 0)
			ctx->decimal = KAFKA_DECIMAL_STRING;
		else if (strcmp(w, "decimal=double") == 0)
			ctx->decimal = KAFKA_DECIMAL_DOUBLE;
		else if (strcmp(w, "time=connect") == 0)
			ctx->time = KAFKA_TIME_CONNECT;
		else if (strncmp(w, "placeholder=", 12) == 0)
			ctx->unavailable = w + 12;
		else if (strncmp(w, "op=", 3) == 0)
			ctx->op = w[3];
		else if (strncmp(w, "snapshot=", 9) == 0)
			ctx->snapshot = w + 9;
		else if (strncmp(w, "topic=", 6) == 0)
			ctx->topic = w + 6;
		else if (strncmp(w, "txn=", 4) == 0) {
			unsigned long long a, b;

			assert_int_equal(sscanf(w + 4, "%63[^,],%llu,%llu", cc->txn_id,
									&a, &b),
							 3);
			cc->txn.id = cc->txn_id;
			cc->txn.total_order = a;
			cc->txn.data_collection_order = b;
			ctx->txn = &cc->txn;
		} else
			fail_msg("unknown option %s", w);
	}
}

static void
test_envelopes(void **state)
{
	char path[1024], in[16384], key[4096], dbz[32768], err[256];
	const char *dir = getenv("WALPIPE_TEST_DATA");
	struct w2j_decoder *dec = w2j_decoder_new();
	struct case_ctx cc;
	struct kafka_msg_ctx ctx;
	struct buf b = BUF_INIT;
	int cases = 0;
	FILE *f;

	(void) state;
	snprintf(path, sizeof(path), "%s/kafka/envelopes.txt", dir ? dir : ".");
	f = fopen(path, "r");
	assert_non_null(f);
	memset(&ctx, 0, sizeof(ctx));
	memset(&cc, 0, sizeof(cc));
	while (fgets(in, sizeof(in), f)) {
		struct w2j_change c;
		char *json;
		bool has;

		if (in[0] == '#' || in[0] == '\n')
			continue;
		if (cases == 0 || ctx.source == NULL) {
			memset(&ctx, 0, sizeof(ctx));
			ctx.source = "shop";
			ctx.commit_ms = 1000;
			ctx.now_ms = 2000;
			ctx.db = "shopdb";
		}
		if (strncmp(in, "cols: ", 6) == 0) {
			snprintf(cc.cols_text, sizeof(cc.cols_text), "%.4000s",
					 after_prefix(in, "cols: "));
			parse_cols(&cc, &ctx);
			continue;
		}
		if (strncmp(in, "opts: ", 6) == 0) {
			snprintf(cc.opts_text, sizeof(cc.opts_text), "%.1000s",
					 after_prefix(in, "opts: "));
			parse_opts(&cc, &ctx);
			continue;
		}
		assert_non_null(fgets(key, sizeof(key), f));
		assert_non_null(fgets(dbz, sizeof(dbz), f));
		json = after_prefix(in, "in: ");
		if (!w2j_decode(dec, json, strlen(json), &c, err, sizeof(err)))
			fail_msg("%s: %s", json, err);
		buf_reset(&b, 0);
		if (c.action == W2J_MESSAGE) {
			kafka_msg_message_key(&b, &c, &ctx);
			has = true;
		} else
			has = kafka_msg_key(&b, &c, &ctx);
		if (strcmp(after_prefix(key, "key: "), "-") == 0)
			assert_false(has);
		else
			assert_string_equal(b.data, key + 5);
		buf_reset(&b, 0);
		if (c.action == W2J_MESSAGE)
			kafka_msg_message(&b, &c, &ctx);
		else
			kafka_msg_debezium(&b, &c, &ctx);
		if (strcmp(b.data, after_prefix(dbz, "debezium: ")) != 0) {
			/* In full: cmocka cuts long messages. */
			fprintf(stderr, "envelope of %s\ngot:      %s\nexpected: %s\n",
					json, b.data, dbz + 10);
			fail();
		}
		cases++;
		ctx.source = NULL; /* the next case starts from the defaults */
	}
	fclose(f);
	assert_true(cases >= 6);
	buf_free(&b);
	w2j_decoder_free(dec);
}

#define D10 "1234567890"
#define D100 D10 D10 D10 D10 D10 D10 D10 D10 D10 D10
#define BIG1200 D100 D100 D100 D100 D100 D100 D100 D100 D100 D100 D100 D100

/* Debezium's precise decimals: Java's BigInteger.toByteArray in base64,
 * checked against values worked out by hand. */
static void
test_values(void **state)
{
	static const struct {
		const char *type, *value;
		enum w2j_kind kind;
		int decimal, time;
		const char *out;
	} cases[] = {
		/* 12345 = 0x3039 */
		{"numeric(12,2)", "123.45", W2J_NUMBER, 0, 0, "\"MDk=\""},
		/* -12345 = 0xcfc7 */
		{"numeric(12,2)", "-123.45", W2J_NUMBER, 0, 0, "\"z8c=\""},
		/* 128 needs a sign byte: 0x0080; -128 does not: 0x80 */
		{"numeric(5,0)", "128", W2J_NUMBER, 0, 0, "\"AIA=\""},
		{"numeric(5,0)", "-128", W2J_NUMBER, 0, 0, "\"gA==\""},
		{"numeric(5,0)", "-129", W2J_NUMBER, 0, 0, "\"/38=\""},
		{"numeric(5,0)", "0", W2J_NUMBER, 0, 0, "\"AA==\""},
		/* 2^64 = 0x010000000000000000 */
		{"numeric(30,0)", "18446744073709551616", W2J_NUMBER, 0, 0,
		 "\"AQAAAAAAAAAA\""},
		/* 150 = 0x96: a sign byte first */
		{"numeric", "1.50", W2J_NUMBER, 0, 0, "{\"scale\":2,\"value\":\"AJY=\"}"},
		{"numeric", "NaN", W2J_STRING, 0, 0, "null"},
		/* 1200 digits: over what precise converts; the exact text */
		{"numeric", BIG1200, W2J_NUMBER, 0, 0, BIG1200},
		{"numeric(12,2)", "123.45", W2J_NUMBER, KAFKA_DECIMAL_STRING, 0,
		 "\"123.45\""},
		{"numeric(12,2)", "123.45", W2J_NUMBER, KAFKA_DECIMAL_DOUBLE, 0,
		 "123.45"},
		{"date", "2026-11-25", W2J_STRING, 0, 0, "20782"},
		{"date", "1969-12-31", W2J_STRING, 0, 0, "-1"},
		{"time without time zone", "01:02:03.5", W2J_STRING, 0, 0,
		 "3723500000"},
		{"time(3) without time zone", "01:02:03.5", W2J_STRING, 0, 0,
		 "3723500"},
		{"time without time zone", "01:02:03.5", W2J_STRING, 0,
		 KAFKA_TIME_CONNECT, "3723500"},
		{"timestamp without time zone", "1970-01-02 00:00:00.000001",
		 W2J_STRING, 0, 0, "86400000001"},
		{"timestamp(3) without time zone", "1969-12-31 23:59:59.9995",
		 W2J_STRING, 0, 0, "-1"},
		{"timestamp without time zone", "1970-01-02 00:00:00.000001",
		 W2J_STRING, 0, KAFKA_TIME_CONNECT, "86400000"},
		{"timestamp with time zone", "2026-11-25 00:19:22.79+00",
		 W2J_STRING, 0, 0, "\"2026-11-25T00:19:22.79Z\""},
		{"timestamp with time zone", "2026-11-25 01:00:00+05:30", W2J_STRING,
		 0, 0, "\"2026-11-24T19:30:00Z\""},
		{"time with time zone", "10:15:30.100-02", W2J_STRING, 0, 0,
		 "\"12:15:30.1Z\""},
		{"bytea", "\\x00ff10", W2J_STRING, 0, 0, "\"AP8Q\""},
		{"bytea", "00ff10", W2J_STRING, 0, 0, "\"AP8Q\""},
		{"integer[]", "{1,NULL,-3}", W2J_STRING, 0, 0, "[1,null,-3]"},
		{"text[]", "{a,\"b c\",\"d\\\"e\",NULL}", W2J_STRING, 0, 0,
		 "[\"a\",\"b c\",\"d\\\"e\",null]"},
		{"date[]", "{1970-01-11}", W2J_STRING, 0, 0, "[10]"},
		{"integer[]", "{{1,2},{3,4}}", W2J_STRING, 0, 0, "\"{{1,2},{3,4}}\""},
		{"jsonb", "{\"a\": 1}", W2J_STRING, 0, 0, "\"{\\\"a\\\": 1}\""},
		{"uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", W2J_STRING, 0, 0,
		 "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\""},
		{"double precision", "NaN", W2J_STRING, 0, 0, "\"NaN\""},
		{"bigint", "9223372036854775807", W2J_NUMBER, 0, 0,
		 "9223372036854775807"},
	};
	struct buf b = BUF_INIT;

	(void) state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kafka_msg_ctx ctx;
		struct w2j_column v = {0};

		memset(&ctx, 0, sizeof(ctx));
		ctx.decimal = (enum kafka_decimal_mode) cases[i].decimal;
		ctx.time = (enum kafka_time_mode) cases[i].time;
		v.name = "x";
		v.name_len = 1;
		v.value = cases[i].value;
		v.value_len = strlen(cases[i].value);
		v.kind = cases[i].kind;
		buf_reset(&b, 0);
		kafka_msg_value(&b, cases[i].type, &v, &ctx);
		if (strcmp(b.data, cases[i].out) != 0)
			fail_msg("%s %s: got %s, expected %s", cases[i].type,
					 cases[i].value, b.data, cases[i].out);
	}
	buf_free(&b);
}

/* interval.handling.mode and hstore.handling.mode: values by type name
 * (any interval, hstore in any schema), and the field schemas. */
static void
test_interval_hstore(void **state)
{
	static const struct {
		const char *type, *value;
		int interval, hstore;
		const char *out;
	} cases[] = {
		{"interval", "1 day 01:00:00", 0, 0, "90000000000"},
		{"interval(3)", "-00:00:00.5", 0, 0, "-500000"},
		{"interval year to month", "1 year 2 mons", KAFKA_INTERVAL_STRING,
		 0, "\"P1Y2M0DT0H0M0S\""},
		{"interval[]", "{\"1 day\",NULL}", KAFKA_INTERVAL_STRING, 0,
		 "[\"P0Y0M1DT0H0M0S\",null]"},
		/* IntervalStyle iso_8601: not parsed, the text as it came */
		{"interval", "P1Y", 0, 0, "\"P1Y\""},
		{"hstore", "\"a\"=>\"1\", \"b\"=>NULL", 0, 0,
		 "\"{\\\"a\\\":\\\"1\\\",\\\"b\\\":null}\""},
		{"ext.hstore", "\"a\"=>\"1\"", 0, KAFKA_HSTORE_MAP, "{\"a\":\"1\"}"},
		{"myhstore", "\"a\"=>\"1\"", 0, KAFKA_HSTORE_MAP,
		 "\"\\\"a\\\"=>\\\"1\\\"\""},
	};
	struct buf b = BUF_INIT;
	struct kafka_column cols[] = {{"id", "integer", false, NULL},
								  {"h", "hstore", true, NULL},
								  {"iv", "interval", true, NULL}};
	struct kafka_table tab = {cols, 3};
	struct w2j_column row[3] = {{0}}, pk[1] = {{0}};
	struct w2j_change c;
	struct kafka_msg_ctx ctx;

	(void) state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct w2j_column v = {0};

		memset(&ctx, 0, sizeof(ctx));
		ctx.interval = (enum kafka_interval_mode) cases[i].interval;
		ctx.hstore = (enum kafka_hstore_mode) cases[i].hstore;
		v.name = "x";
		v.name_len = 1;
		v.value = cases[i].value;
		v.value_len = strlen(cases[i].value);
		v.kind = W2J_STRING;
		buf_reset(&b, 0);
		kafka_msg_value(&b, cases[i].type, &v, &ctx);
		if (strcmp(b.data, cases[i].out) != 0)
			fail_msg("%s %s: got %s, expected %s", cases[i].type,
					 cases[i].value, b.data, cases[i].out);
	}
	memset(&c, 0, sizeof(c));
	c.action = W2J_INSERT;
	c.schema = "public";
	c.table = "t";
	row[0] = (struct w2j_column){"id", 2, NULL, 0, "1", 1, W2J_NUMBER};
	row[1] = (struct w2j_column){"h", 1, NULL, 0, "", 0, W2J_STRING};
	row[2] = (struct w2j_column){"iv", 2, NULL, 0, NULL, 0, W2J_NULL};
	pk[0] = row[0];
	c.columns = row;
	c.ncolumns = 3;
	c.pk = pk;
	c.npk = 1;
	for (int mode = 0; mode < 2; mode++) {
		memset(&ctx, 0, sizeof(ctx));
		ctx.schemas = true;
		ctx.table = &tab;
		ctx.topic = "s.public.t";
		ctx.hstore = (enum kafka_hstore_mode) mode;
		ctx.interval = (enum kafka_interval_mode) mode;
		buf_reset(&b, 0);
		kafka_msg_debezium(&b, &c, &ctx);
		assert_non_null(strstr(
			b.data,
			mode ? "{\"type\":\"map\",\"keys\":{\"type\":\"string\","
				   "\"optional\":false},\"values\":{\"type\":\"string\","
				   "\"optional\":true},\"optional\":true,\"field\":\"h\"}"
				 : "{\"type\":\"string\",\"optional\":true,\"name\":"
				   "\"io.debezium.data.Json\",\"version\":1,\"field\":\"h\"}"));
		assert_non_null(strstr(
			b.data,
			mode ? "{\"type\":\"string\",\"optional\":true,\"name\":"
				   "\"io.debezium.time.Interval\",\"version\":1,\"field\":"
				   "\"iv\"}"
				 : "{\"type\":\"int64\",\"optional\":true,\"name\":"
				   "\"io.debezium.time.MicroDuration\",\"version\":1,"
				   "\"field\":\"iv\"}"));
		assert_non_null(strstr(b.data, mode ? "\"h\":{}" : "\"h\":\"{}\""));
	}
	buf_free(&b);
}

/* Debezium 2.x's markers, with its precedence (last, first, then the
 * table's last and first). */
static void
test_snapshot_markers(void **state)
{
	(void) state;
	assert_string_equal(kafka_msg_snapshot_marker(true, true, true, true),
						"last");
	assert_string_equal(kafka_msg_snapshot_marker(true, false, true, true),
						"first");
	assert_string_equal(kafka_msg_snapshot_marker(true, false, true, false),
						"first");
	assert_string_equal(kafka_msg_snapshot_marker(true, true, true, false),
						"first");
	assert_string_equal(kafka_msg_snapshot_marker(false, true, false, true),
						"last");
	assert_string_equal(kafka_msg_snapshot_marker(false, false, true, true),
						"last_in_data_collection");
	assert_string_equal(kafka_msg_snapshot_marker(true, false, false, true),
						"last_in_data_collection");
	assert_string_equal(kafka_msg_snapshot_marker(false, true, true, false),
						"first_in_data_collection");
	assert_string_equal(kafka_msg_snapshot_marker(true, true, false, false),
						"true");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_topics),
		cmocka_unit_test(test_templates),
		cmocka_unit_test(test_envelopes),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_snapshot_markers),
		cmocka_unit_test(test_interval_hstore),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
