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
 * expected envelope, with source "shop", commit_ms 1000 and now_ms 2000.
 */
static char *
after_prefix(char *line, const char *prefix)
{
	size_t n = strlen(prefix);

	assert_memory_equal(line, prefix, n);
	line[strcspn(line, "\n")] = '\0';
	return line + n;
}

static void
test_envelopes(void **state)
{
	char path[1024], in[8192], key[1024], dbz[8192], err[256];
	const char *dir = getenv("WALPIPE_TEST_DATA");
	struct w2j_decoder *dec = w2j_decoder_new();
	struct kafka_msg_ctx ctx = {"shop", 1000, 2000};
	struct buf b = BUF_INIT;
	int cases = 0;
	FILE *f;

	(void) state;
	snprintf(path, sizeof(path), "%s/kafka/envelopes.txt", dir ? dir : ".");
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(in, sizeof(in), f)) {
		struct w2j_change c;
		char *json;
		bool has;

		if (in[0] == '#' || in[0] == '\n')
			continue;
		assert_non_null(fgets(key, sizeof(key), f));
		assert_non_null(fgets(dbz, sizeof(dbz), f));
		json = after_prefix(in, "in: ");
		if (!w2j_decode(dec, json, strlen(json), &c, err, sizeof(err)))
			fail_msg("%s: %s", json, err);
		buf_reset(&b, 0);
		has = kafka_msg_key(&b, &c);
		if (strcmp(after_prefix(key, "key: "), "-") == 0)
			assert_false(has);
		else
			assert_string_equal(b.data, key + 5);
		buf_reset(&b, 0);
		kafka_msg_debezium(&b, &c, &ctx);
		assert_string_equal(b.data, after_prefix(dbz, "debezium: "));
		cases++;
	}
	fclose(f);
	assert_true(cases >= 6);
	buf_free(&b);
	w2j_decoder_free(dec);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_topics),
		cmocka_unit_test(test_templates),
		cmocka_unit_test(test_envelopes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
