/* kafka_mock.c: test helper: librdkafka's mock Kafka cluster in its own process, and a consumer that dumps topics as JSON lines. */
#include "walpipe/buf.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * walpipe's tests need a Kafka that outlives a walpipe killed with -9 and
 * that they can break on purpose.  librdkafka's mock cluster speaks the
 * real protocol on TCP ports of 127.0.0.1, so it can live here and
 * walpipe connects to it as to any cluster.
 *
 *   kafka_mock serve [BROKERS]
 *     Prints the bootstrap servers on the first line of stdout, then reads
 *     commands from stdin and answers each with "ok" (or "error: ...") on
 *     stdout:
 *       down [ID]         take broker ID (default: all) down
 *       up [ID]           bring it back
 *       produce-errors N CODE   the next N produce requests fail with CODE
 *                               (a Kafka error code, e.g. 6 not leader)
 *       create TOPIC PARTITIONS
 *     Exits on EOF or "quit".
 *
 *   kafka_mock consume BOOTSTRAPS [TOPIC...]
 *     Reads every partition of the topics (default: all) from the start to
 *     the end and writes one JSON object per message on stdout:
 *       {"topic":..,"partition":..,"offset":..,"key":..,"value":..,
 *        "headers":{"lsn":..,...}}
 *     key and value are JSON strings (the message bytes) or null.
 *
 *   kafka_mock partition N
 *     For each line of stdin (a message key, without its newline), prints
 *     the partition of N that Kafka's Java producer picks for it: the
 *     positive murmur2 hash modulo N.  Checks itself against the Java
 *     client's test vectors first (exit 2 if they differ).
 */

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "kafka_mock: %s: %s\n", what, why);
	exit(2);
}

static int
serve(int nbrokers)
{
	char errstr[512], line[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;
	rd_kafka_mock_cluster_t *mc;

	/* The cluster needs a handle to run on; a producer that sends nothing. */
	rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (rk == NULL)
		die("could not create a handle", errstr);
	mc = rd_kafka_mock_cluster_new(rk, nbrokers);
	if (mc == NULL)
		die("could not create the mock cluster", "");
	printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		char cmd[64] = "", arg[256] = "";
		long n = -1, code = 0;
		rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;

		if (sscanf(line, "%63s %255s %ld", cmd, arg, &code) < 1)
			continue;
		n = arg[0] ? strtol(arg, NULL, 10) : -1;
		if (strcmp(cmd, "quit") == 0)
			break;
		if (strcmp(cmd, "down") == 0 || strcmp(cmd, "up") == 0) {
			for (int id = 1; id <= nbrokers && !err; id++)
				if (n < 0 || n == id)
					err = cmd[0] == 'd'
							  ? rd_kafka_mock_broker_set_down(mc, id)
							  : rd_kafka_mock_broker_set_up(mc, id);
		} else if (strcmp(cmd, "produce-errors") == 0 && n > 0) {
			rd_kafka_resp_err_t *errs = calloc((size_t) n, sizeof(*errs));

			for (long i = 0; i < n; i++)
				errs[i] = (rd_kafka_resp_err_t) code;
			rd_kafka_mock_push_request_errors_array(mc, 0 /* Produce */,
													(size_t) n, errs);
			free(errs);
		} else if (strcmp(cmd, "create") == 0) {
			err = rd_kafka_mock_topic_create(mc, arg, (int) code, 1);
		} else {
			printf("error: unknown command %s\n", cmd);
			fflush(stdout);
			continue;
		}
		if (err)
			printf("error: %s\n", rd_kafka_err2str(err));
		else
			printf("ok\n");
		fflush(stdout);
	}
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return 0;
}

static void
print_bytes(struct buf *b, const void *p, size_t n)
{
	if (p == NULL)
		buf_append_str(b, "null");
	else
		buf_append_json_string(b, p, n);
}

static int
consume(const char *bootstraps, char **topics, int ntopics)
{
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;
	const struct rd_kafka_metadata *md;
	rd_kafka_topic_partition_list_t *parts;
	rd_kafka_resp_err_t err;
	int eofs = 0;
	struct buf b = BUF_INIT;

	if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, errstr,
						  sizeof(errstr)) != RD_KAFKA_CONF_OK ||
		rd_kafka_conf_set(conf, "group.id", "kafka_mock_dump", errstr,
						  sizeof(errstr)) != RD_KAFKA_CONF_OK ||
		rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr,
						  sizeof(errstr)) != RD_KAFKA_CONF_OK ||
		rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr,
						  sizeof(errstr)) != RD_KAFKA_CONF_OK)
		die("bad consumer configuration", errstr);
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (rk == NULL)
		die("could not create the consumer", errstr);
	err = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
	if (err)
		die("could not read the metadata", rd_kafka_err2str(err));
	parts = rd_kafka_topic_partition_list_new(16);
	for (int i = 0; i < md->topic_cnt; i++) {
		const rd_kafka_metadata_topic_t *t = &md->topics[i];
		bool wanted = ntopics == 0;

		for (int j = 0; j < ntopics; j++)
			wanted |= strcmp(topics[j], t->topic) == 0;
		if (!wanted || t->topic[0] == '_')
			continue;
		for (int p = 0; p < t->partition_cnt; p++)
			rd_kafka_topic_partition_list_add(parts, t->topic,
											  t->partitions[p].id)
				->offset = RD_KAFKA_OFFSET_BEGINNING;
	}
	rd_kafka_metadata_destroy(md);
	if (parts->cnt > 0) {
		err = rd_kafka_assign(rk, parts);
		if (err)
			die("could not assign partitions", rd_kafka_err2str(err));
	}
	while (eofs < parts->cnt) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 10000);
		rd_kafka_headers_t *hdrs = NULL;

		if (m == NULL)
			die("no message for 10 s", "the topics did not reach their end");
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			eofs++;
			rd_kafka_message_destroy(m);
			continue;
		}
		if (m->err)
			die("could not consume", rd_kafka_message_errstr(m));
		buf_reset(&b, 1 << 20);
		buf_append_str(&b, "{\"topic\":");
		buf_append_json_string(&b, rd_kafka_topic_name(m->rkt),
							   strlen(rd_kafka_topic_name(m->rkt)));
		buf_appendf(&b, ",\"partition\":%d,\"offset\":%lld,\"key\":",
					(int) m->partition, (long long) m->offset);
		print_bytes(&b, m->key, m->key_len);
		buf_append_str(&b, ",\"value\":");
		print_bytes(&b, m->payload, m->len);
		buf_append_str(&b, ",\"headers\":{");
		if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
			const char *name;
			const void *val;
			size_t len;

			for (size_t i = 0;
				 rd_kafka_header_get_all(hdrs, i, &name, &val, &len) ==
				 RD_KAFKA_RESP_ERR_NO_ERROR;
				 i++) {
				if (i > 0)
					buf_append_char(&b, ',');
				buf_append_json_string(&b, name, strlen(name));
				buf_append_char(&b, ':');
				print_bytes(&b, val, len);
			}
		}
		buf_append_str(&b, "}}\n");
		fwrite(b.data, 1, b.len, stdout);
		rd_kafka_message_destroy(m);
	}
	buf_free(&b);
	rd_kafka_topic_partition_list_destroy(parts);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return 0;
}

/*
 * The Java client's Utils.murmur2, ported here on its own (not
 * librdkafka's) so the tests check walpipe's partitions against Kafka's
 * reference, not against the library that chose them.
 */
static int32_t
java_murmur2(const unsigned char *d, size_t len)
{
	const uint32_t m = 0x5bd1e995;
	uint32_t h = 0x9747b28cu ^ (uint32_t) len;
	size_t i;

	for (i = 0; i + 4 <= len; i += 4) {
		uint32_t k = (uint32_t) d[i] | (uint32_t) d[i + 1] << 8 |
					 (uint32_t) d[i + 2] << 16 | (uint32_t) d[i + 3] << 24;

		k *= m;
		k ^= k >> 24;
		k *= m;
		h *= m;
		h ^= k;
	}
	switch (len % 4) {
	case 3:
		h ^= (uint32_t) d[i + 2] << 16;
		/* fall through */
	case 2:
		h ^= (uint32_t) d[i + 1] << 8;
		/* fall through */
	case 1:
		h ^= d[i];
		h *= m;
	}
	h ^= h >> 13;
	h *= m;
	h ^= h >> 15;
	return (int32_t) h;
}

static int
partition(int n)
{
	/* Kafka's UtilsTest.testMurmur2. */
	static const struct {
		const char *in;
		int32_t out;
	} vectors[] = {
		{"21", -973932308},
		{"foobar", -790332482},
		{"a-little-bit-long-string", -985981536},
		{"a-little-bit-longer-string", -1486304829},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
		{"abc", 479470107},
	};
	char line[65536];

	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
		if (java_murmur2((const unsigned char *) vectors[i].in,
						 strlen(vectors[i].in)) != vectors[i].out)
			die("murmur2 differs from the Java client's", vectors[i].in);
	if (n <= 0)
		die("partition", "the number of partitions must be positive");
	while (fgets(line, sizeof(line), stdin)) {
		size_t len = strcspn(line, "\n");

		printf("%d\n", (int) ((uint32_t) java_murmur2(
									(const unsigned char *) line, len) &
								0x7fffffff) %
							n);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "partition") == 0)
		return partition(atoi(argv[2]));
	if (argc >= 2 && strcmp(argv[1], "serve") == 0)
		return serve(argc >= 3 ? atoi(argv[2]) : 3);
	if (argc >= 3 && strcmp(argv[1], "consume") == 0)
		return consume(argv[2], argv + 3, argc - 3);
	fprintf(stderr, "usage: kafka_mock serve [BROKERS] | consume BOOTSTRAPS "
					"[TOPIC...] | partition N\n");
	return 2;
}
