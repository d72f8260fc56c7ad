/* metrics.c: Prometheus metrics of a running walpipe, served over HTTP by libmicrohttpd. */
#include "walpipe/metrics.h"

#include "walpipe/buf.h"
#include "walpipe/ident.h"
#include "walpipe/mem.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* Connection limits of the metrics endpoint (metrics_open). */
#define METRICS_MAX_CONNECTIONS 32
#define METRICS_MAX_PER_ADDRESS 4

#define METRICS_MAX_SERIES 512

static const double bucket_le[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
								   0.5,	  1,	2.5,   5,	 10};
#define NBUCKETS (sizeof(bucket_le) / sizeof(bucket_le[0]))

/* A table label: ident_qualified's text (two names of up to 63 bytes,
 * quoted, " doubled), escaped for the exposition format. */
#define METRICS_LABEL_MAX 544

struct series {
	char table[METRICS_LABEL_MAX]; /* label value, escaped */
	char op;
	uint64_t received, applied;
};

struct snap_series {
	char table[METRICS_LABEL_MAX]; /* label value, escaped */
	uint64_t rows;
	int64_t estimate;
	bool done;
};

#define METRICS_MAX_SNAPSHOT 64

struct metrics {
	pthread_mutex_t lock;
	struct snap_series snap[METRICS_MAX_SNAPSHOT];
	size_t nsnap;
	struct backfill_series {
		char table[METRICS_LABEL_MAX], target[METRICS_LABEL_MAX];
		uint64_t rows;
		int64_t estimate;
		double rate;
		bool done;
	} bf[METRICS_MAX_SNAPSHOT];
	size_t nbf;
	struct MHD_Daemon *daemon;
	char source[64];
	struct series s[METRICS_MAX_SERIES];
	size_t ns;
	uint64_t batches, dead_letters, reconnects, refresh_failures;
	uint64_t buckets[NBUCKETS];
	double batch_seconds_sum;
	lsn_t checkpoint, server_end;
	double last_commit; /* epoch seconds, < 0: none */
	bool up;
	bool kafka; /* the Kafka sink reported: render its series */
	uint64_t k_produced, k_delivered, k_failed, k_skipped;
	lsn_t k_watermark;
};

double
metrics_parse_time(const char *t)
{
	struct tm tm;
	int y, mo, d, h, mi, n = 0, oh = 0, om = 0;
	double sec;
	char sign = '+';
	const char *p;

	if (t == NULL ||
		sscanf(t, "%d-%d-%d %d:%d:%lf%n", &y, &mo, &d, &h, &mi, &sec, &n) < 6)
		return -1;
	p = t + n;
	if (*p == '+' || *p == '-') {
		sign = *p;
		if (sscanf(p + 1, "%d:%d", &oh, &om) < 1)
			return -1;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	return (double) timegm(&tm) + sec -
		   (sign == '+' ? 1 : -1) * (oh * 3600.0 + om * 60.0);
}

/* The changes received and applied, by table and op. */
static void
render_changes(const struct metrics *m, struct buf *b)
{
	buf_append_str(b, "# HELP walpipe_changes_received_total Row changes "
					  "received from the slot.\n"
					  "# TYPE walpipe_changes_received_total counter\n");
	for (size_t i = 0; i < m->ns; i++)
		buf_appendf(b,
					"walpipe_changes_received_total{source=\"%s\",table=\"%s\","
					"op=\"%c\"} %llu\n",
					m->source, m->s[i].table, m->s[i].op,
					(unsigned long long) m->s[i].received);
	buf_append_str(b, "# HELP walpipe_changes_applied_total Row changes "
					  "committed to the analytics database.\n"
					  "# TYPE walpipe_changes_applied_total counter\n");
	for (size_t i = 0; i < m->ns; i++)
		buf_appendf(b,
					"walpipe_changes_applied_total{source=\"%s\",table=\"%s\","
					"op=\"%c\"} %llu\n",
					m->source, m->s[i].table, m->s[i].op,
					(unsigned long long) m->s[i].applied);
}

/* Each table a snapshot copies: rows copied, estimated, done. */
static void
render_snapshots(const struct metrics *m, struct buf *b)
{
	if (m->nsnap == 0)
		return;
	buf_append_str(b, "# HELP walpipe_snapshot_rows_copied Rows a "
					  "snapshot copied of a table.\n"
					  "# TYPE walpipe_snapshot_rows_copied gauge\n");
	for (size_t i = 0; i < m->nsnap; i++)
		buf_appendf(b,
					"walpipe_snapshot_rows_copied{source=\"%s\",table=\"%s\"}"
					" %llu\n",
					m->source, m->snap[i].table,
					(unsigned long long) m->snap[i].rows);
	buf_append_str(b, "# HELP walpipe_snapshot_rows_estimated The "
					  "planner's row estimate of a table being copied.\n"
					  "# TYPE walpipe_snapshot_rows_estimated gauge\n");
	for (size_t i = 0; i < m->nsnap; i++)
		buf_appendf(b,
					"walpipe_snapshot_rows_estimated{source=\"%s\",table="
					"\"%s\"} %lld\n",
					m->source, m->snap[i].table,
					(long long) m->snap[i].estimate);
	buf_append_str(b, "# HELP walpipe_snapshot_table_done 1 once a "
					  "table's snapshot committed.\n"
					  "# TYPE walpipe_snapshot_table_done gauge\n");
	for (size_t i = 0; i < m->nsnap; i++)
		buf_appendf(b,
					"walpipe_snapshot_table_done{source=\"%s\",table=\"%s\"}"
					" %d\n",
					m->source, m->snap[i].table, m->snap[i].done ? 1 : 0);
}

/* Each online backfill: rows copied, estimated, rate, done. */
static void
render_backfills(const struct metrics *m, struct buf *b)
{
	static const char *const help[4] = {
		"walpipe_backfill_rows_copied Rows an online backfill copied",
		"walpipe_backfill_rows_estimated The planner's row estimate of "
		"the table being backfilled",
		"walpipe_backfill_rows_per_second Rows per second of the backfill "
		"this session",
		"walpipe_backfill_done 1 once the backfill's last chunk committed"};

	if (m->nbf == 0)
		return;
	for (int k = 0; k < 4; k++) {
		char name[64];

		snprintf(name, sizeof(name), "%.*s", (int) strcspn(help[k], " "),
				 help[k]);
		buf_appendf(b, "# HELP %s.\n# TYPE %s gauge\n", help[k], name);
		for (size_t i = 0; i < m->nbf; i++) {
			const struct backfill_series *x = &m->bf[i];

			buf_appendf(b, "%s{source=\"%s\",table=\"%s\",target=\"%s\"} ",
						name, m->source, x->table, x->target);
			if (k == 0)
				buf_appendf(b, "%llu\n", (unsigned long long) x->rows);
			else if (k == 1)
				buf_appendf(b, "%lld\n", (long long) x->estimate);
			else if (k == 2)
				buf_appendf(b, "%.1f\n", x->rate);
			else
				buf_appendf(b, "%d\n", x->done ? 1 : 0);
		}
	}
}

/* The batch apply times as a histogram. */
static void
render_batches(const struct metrics *m, struct buf *b)
{
	uint64_t cum = 0;

	buf_appendf(b, "# HELP walpipe_batch_duration_seconds Apply time of a "
				   "committed batch.\n"
				   "# TYPE walpipe_batch_duration_seconds histogram\n");
	for (size_t i = 0; i < NBUCKETS; i++) {
		cum += m->buckets[i];
		buf_appendf(b,
					"walpipe_batch_duration_seconds_bucket{source=\"%s\",le=\"%g\"}"
					" %llu\n",
					m->source, bucket_le[i], (unsigned long long) cum);
	}
	buf_appendf(b,
				"walpipe_batch_duration_seconds_bucket{source=\"%s\",le=\"+Inf\"} "
				"%llu\n"
				"walpipe_batch_duration_seconds_sum{source=\"%s\"} %.6f\n"
				"walpipe_batch_duration_seconds_count{source=\"%s\"} %llu\n",
				m->source, (unsigned long long) m->batches, m->source,
				m->batch_seconds_sum, m->source,
				(unsigned long long) m->batches);
}

/* Dead letters, reconnects, refresh failures, checkpoint and lag. */
static void
render_counters(const struct metrics *m, struct buf *b)
{
	buf_appendf(b,
				"# HELP walpipe_dead_letters_total Rows sent to the dead letter "
				"table.\n# TYPE walpipe_dead_letters_total counter\n"
				"walpipe_dead_letters_total{source=\"%s\"} %llu\n"
				"# HELP walpipe_reconnects_total Sessions restarted after a "
				"failure.\n# TYPE walpipe_reconnects_total counter\n"
				"walpipe_reconnects_total{source=\"%s\"} %llu\n"
				"# HELP walpipe_refresh_failures_total Failed materialized view "
				"refreshes.\n# TYPE walpipe_refresh_failures_total counter\n"
				"walpipe_refresh_failures_total{source=\"%s\"} %llu\n"
				"# HELP walpipe_checkpoint_lsn The checkpoint, as a byte "
				"position.\n# TYPE walpipe_checkpoint_lsn gauge\n"
				"walpipe_checkpoint_lsn{source=\"%s\"} %llu\n"
				"# HELP walpipe_source_lag_bytes Source WAL end minus the "
				"checkpoint.\n# TYPE walpipe_source_lag_bytes gauge\n"
				"walpipe_source_lag_bytes{source=\"%s\"} %llu\n",
				m->source, (unsigned long long) m->dead_letters, m->source,
				(unsigned long long) m->reconnects, m->source,
				(unsigned long long) m->refresh_failures, m->source,
				(unsigned long long) m->checkpoint, m->source,
				(unsigned long long) (m->server_end > m->checkpoint
										  ? m->server_end - m->checkpoint
										  : 0));
}

/* The Kafka sink's messages and position (only with one). */
static void
render_kafka(const struct metrics *m, struct buf *b)
{
	if (!m->kafka)
		return;
	buf_appendf(
		b,
		"# HELP walpipe_kafka_messages_produced_total Messages handed to "
		"the Kafka producer (tombstones included).\n"
		"# TYPE walpipe_kafka_messages_produced_total counter\n"
		"walpipe_kafka_messages_produced_total{source=\"%s\"} %llu\n"
		"# HELP walpipe_kafka_messages_delivered_total Messages the "
		"brokers acknowledged.\n"
		"# TYPE walpipe_kafka_messages_delivered_total counter\n"
		"walpipe_kafka_messages_delivered_total{source=\"%s\"} %llu\n"
		"# HELP walpipe_kafka_messages_failed_total Messages whose "
		"delivery failed (sent again from the slot).\n"
		"# TYPE walpipe_kafka_messages_failed_total counter\n"
		"walpipe_kafka_messages_failed_total{source=\"%s\"} %llu\n"
		"# HELP walpipe_kafka_messages_skipped_total Messages a restart "
		"did not send again: their partition already held them.\n"
		"# TYPE walpipe_kafka_messages_skipped_total counter\n"
		"walpipe_kafka_messages_skipped_total{source=\"%s\"} %llu\n"
		"# HELP walpipe_kafka_delivered_lsn End of the last transaction "
		"wholly delivered to Kafka.\n"
		"# TYPE walpipe_kafka_delivered_lsn gauge\n"
		"walpipe_kafka_delivered_lsn{source=\"%s\"} %llu\n",
		m->source, (unsigned long long) m->k_produced, m->source,
		(unsigned long long) m->k_delivered, m->source,
		(unsigned long long) m->k_failed, m->source,
		(unsigned long long) m->k_skipped, m->source,
		(unsigned long long) m->k_watermark);
}

/* The metrics in the Prometheus text format, under the lock. */
static void
render(struct metrics *m, struct buf *b)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	pthread_mutex_lock(&m->lock);
	buf_appendf(b, "# HELP walpipe_up 1 while walpipe streams and applies.\n"
				   "# TYPE walpipe_up gauge\nwalpipe_up{source=\"%s\"} %d\n",
				m->source, m->up ? 1 : 0);
	render_changes(m, b);
	render_snapshots(m, b);
	render_backfills(m, b);
	render_batches(m, b);
	render_counters(m, b);
	render_kafka(m, b);
	if (m->last_commit >= 0)
		buf_appendf(b,
					"# HELP walpipe_apply_lag_seconds Now minus the commit "
					"time of the last applied source transaction.\n"
					"# TYPE walpipe_apply_lag_seconds gauge\n"
					"walpipe_apply_lag_seconds{source=\"%s\"} %.3f\n",
					m->source,
					(double) now.tv_sec + now.tv_nsec / 1e9 - m->last_commit);
	pthread_mutex_unlock(&m->lock);
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url,
	   const char *method, const char *version, const char *upload_data,
	   size_t *upload_size, void **con_cls)
{
	struct metrics *m = cls;
	struct MHD_Response *resp;
	struct buf b = BUF_INIT;
	enum MHD_Result ret;
	unsigned status = MHD_HTTP_OK;

	(void) version;
	(void) upload_data;
	(void) upload_size;
	(void) con_cls;
	if (strcmp(method, "GET") != 0) {
		buf_append_str(&b, "only GET\n");
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
	} else if (strcmp(url, "/metrics") != 0) {
		buf_append_str(&b, "walpipe: see /metrics\n");
		status = MHD_HTTP_NOT_FOUND;
	} else {
		render(m, &b);
	}
	resp = MHD_create_response_from_buffer(b.len, b.data,
										   MHD_RESPMEM_MUST_COPY);
	buf_free(&b);
	MHD_add_response_header(resp, "Content-Type",
							"text/plain; version=0.0.4; charset=utf-8");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

struct metrics *
metrics_start(const char *listen, const char *source, char *errbuf,
			  size_t errlen)
{
	struct sockaddr_storage ss;
	const char *colon = strrchr(listen, ':');
	char host[128];
	long port;
	char *end;
	struct metrics *m;

	memset(&ss, 0, sizeof(ss));
	if (colon == NULL || (size_t) (colon - listen) >= sizeof(host)) {
		snprintf(errbuf, errlen,
				 "invalid metrics.listen \"%s\": expected HOST:PORT", listen);
		return NULL;
	}
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535) {
		snprintf(errbuf, errlen, "invalid port in metrics.listen \"%s\"",
				 listen);
		return NULL;
	}
	snprintf(host, sizeof(host), "%.*s", (int) (colon - listen), listen);
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *) &ss;

		host[strlen(host) - 1] = '\0';
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t) port);
		if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
			goto bad_host;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *) &ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t) port);
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			goto bad_host;
	}
	m = wp_calloc(1, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
	snprintf(m->source, sizeof(m->source), "%s", source);
	m->last_commit = -1;
	/*
	 * A scraper needs one connection.  Without limits, idle connections
	 * (1,100 in a test) hung the endpoint (select's 1,024 descriptors)
	 * and then took the descriptors the database reconnects need.  So:
	 * poll or epoll, at most METRICS_MAX_CONNECTIONS in all and
	 * METRICS_MAX_PER_ADDRESS from one address (one client cannot lock
	 * out the others), each closed after 10 s idle.
	 */
	m->daemon = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
			(ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
		(uint16_t) port, NULL, NULL, handle, m, MHD_OPTION_SOCK_ADDR, &ss,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 10,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned) METRICS_MAX_CONNECTIONS,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		(unsigned) METRICS_MAX_PER_ADDRESS, MHD_OPTION_END);
	if (m->daemon == NULL) {
		snprintf(errbuf, errlen,
				 "could not serve metrics on \"%s\": the address is in use or "
				 "not local",
				 listen);
		pthread_mutex_destroy(&m->lock);
		free(m);
		return NULL;
	}
	return m;

bad_host:
	snprintf(errbuf, errlen,
			 "invalid metrics.listen \"%s\": the host must be a numeric IPv4 "
			 "address or [IPv6] address",
			 listen);
	return NULL;
}

void
metrics_stop(struct metrics *m)
{
	if (m == NULL)
		return;
	MHD_stop_daemon(m->daemon);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/*
 * A label value in Prometheus' text format: \, " and newline escaped
 * (a quoted table name may hold all three).  Escaping is one to one, so
 * escaped values compare as the names do.
 */
static void
label_value(char *out, size_t len, const char *s)
{
	size_t o = 0;

	for (; *s && o + 3 < len; s++) {
		if (*s == '\\' || *s == '"' || *s == '\n') {
			out[o++] = '\\';
			out[o++] = *s == '\n' ? 'n' : *s;
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
}

void
metrics_change(struct metrics *m, const char *schema, const char *table,
			   char op, bool applied)
{
	char name[METRICS_LABEL_MAX], q[METRICS_LABEL_MAX / 2];
	size_t i;

	if (m == NULL)
		return;
	ident_qualified_to(q, sizeof(q), schema ? schema : "", table ? table : "");
	label_value(name, sizeof(name), q);
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->ns; i++)
		if (m->s[i].op == op && strcmp(m->s[i].table, name) == 0)
			break;
	if (i == m->ns && m->ns < METRICS_MAX_SERIES) {
		snprintf(m->s[i].table, sizeof(m->s[i].table), "%s", name);
		m->s[i].op = op;
		m->ns++;
	}
	if (i < m->ns) {
		if (applied)
			m->s[i].applied++;
		else
			m->s[i].received++;
	}
	pthread_mutex_unlock(&m->lock);
}

void
metrics_batch(struct metrics *m, double seconds, uint64_t dead_letters)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	m->batches++;
	m->batch_seconds_sum += seconds;
	m->dead_letters += dead_letters;
	for (size_t i = 0; i < NBUCKETS; i++)
		if (seconds <= bucket_le[i]) {
			m->buckets[i]++;
			break;
		}
	pthread_mutex_unlock(&m->lock);
}

void
metrics_positions(struct metrics *m, lsn_t checkpoint, lsn_t server_end,
				  const char *last_commit_time)
{
	double t = metrics_parse_time(last_commit_time);

	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	m->checkpoint = checkpoint;
	if (server_end > m->server_end)
		m->server_end = server_end;
	if (t >= 0)
		m->last_commit = t;
	pthread_mutex_unlock(&m->lock);
}

void
metrics_snapshot(struct metrics *m, const char *table, uint64_t rows,
				 int64_t estimate, bool done)
{
	size_t i;

	char name[METRICS_LABEL_MAX];

	if (m == NULL)
		return;
	label_value(name, sizeof(name), table);
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->nsnap; i++)
		if (strcmp(m->snap[i].table, name) == 0)
			break;
	if (i == m->nsnap && m->nsnap < METRICS_MAX_SNAPSHOT) {
		snprintf(m->snap[i].table, sizeof(m->snap[i].table), "%s", name);
		m->nsnap++;
	}
	if (i < m->nsnap) {
		m->snap[i].rows = rows;
		m->snap[i].estimate = estimate;
		m->snap[i].done = done;
	}
	pthread_mutex_unlock(&m->lock);
}

void
metrics_backfill(struct metrics *m, const char *table, const char *target,
				 uint64_t rows, int64_t estimate, double rate, bool done)
{
	char name[METRICS_LABEL_MAX], to[METRICS_LABEL_MAX];
	size_t i;

	if (m == NULL)
		return;
	label_value(name, sizeof(name), table);
	label_value(to, sizeof(to), target);
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->nbf; i++)
		if (strcmp(m->bf[i].table, name) == 0 &&
			strcmp(m->bf[i].target, to) == 0)
			break;
	if (i == m->nbf && m->nbf < METRICS_MAX_SNAPSHOT) {
		snprintf(m->bf[i].table, sizeof(m->bf[i].table), "%s", name);
		snprintf(m->bf[i].target, sizeof(m->bf[i].target), "%s", to);
		m->nbf++;
	}
	if (i < m->nbf) {
		m->bf[i].rows = rows;
		m->bf[i].estimate = estimate;
		m->bf[i].rate = rate;
		m->bf[i].done = done;
	}
	pthread_mutex_unlock(&m->lock);
}

void
metrics_reconnect(struct metrics *m)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	m->reconnects++;
	pthread_mutex_unlock(&m->lock);
}

void
metrics_refresh_failure(struct metrics *m)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	m->refresh_failures++;
	pthread_mutex_unlock(&m->lock);
}

void
metrics_set_up(struct metrics *m, bool up)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	m->up = up;
	pthread_mutex_unlock(&m->lock);
}

void
metrics_kafka(struct metrics *m, uint64_t produced, uint64_t delivered,
			  uint64_t failed, lsn_t watermark)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	m->kafka = true;
	m->k_produced += produced;
	m->k_delivered += delivered;
	m->k_failed += failed;
	m->k_watermark = watermark;
	pthread_mutex_unlock(&m->lock);
}

void
metrics_kafka_skipped(struct metrics *m, uint64_t skipped)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	m->k_skipped += skipped;
	pthread_mutex_unlock(&m->lock);
}
