/* metrics.h: Prometheus metrics of a running walpipe, served over HTTP by libmicrohttpd. */
#ifndef WALPIPE_METRICS_H
#define WALPIPE_METRICS_H

#include "walpipe/lsn.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct metrics;

/*
 * Serve GET /metrics on listen ("HOST:PORT", "[V6]:PORT") from a thread of
 * libmicrohttpd.  Returns NULL with a message in errbuf if the address is
 * invalid or cannot be bound.  Every update function below is NULL-safe
 * (metrics off) and thread-safe against the server.  Does not log.
 */
struct metrics *metrics_start(const char *listen, const char *source,
							  char *errbuf, size_t errlen);
void metrics_stop(struct metrics *m);

/* A change of schema.table with op (I U D T M) was received / applied. */
void metrics_change(struct metrics *m, const char *schema, const char *table,
					char op, bool applied);
/* A batch committed after seconds, with dead_letters new dead letters. */
void metrics_batch(struct metrics *m, double seconds, uint64_t dead_letters);
/* Positions: the checkpoint, the server's WAL end, the last applied
 * commit time (text as wal2json sends it, may be NULL). */
void metrics_positions(struct metrics *m, lsn_t checkpoint, lsn_t server_end,
					   const char *last_commit_time);
void metrics_reconnect(struct metrics *m);
/* Snapshot progress of table "schema.table": rows copied, the planner's
 * estimate (< 0: unknown), whether it is done. */
void metrics_snapshot(struct metrics *m, const char *table, uint64_t rows,
					  int64_t estimate, bool done);
/* Online backfill of table into target: rows copied, the estimate (< 0:
 * unknown), rows/s this session, whether its last chunk committed. */
void metrics_backfill(struct metrics *m, const char *table, const char *target,
					  uint64_t rows, int64_t estimate, double rate, bool done);
void metrics_refresh_failure(struct metrics *m);
void metrics_set_up(struct metrics *m, bool up);
/* Kafka messages produced, delivered, failed since the last call, and the
 * delivered watermark. */
void metrics_kafka(struct metrics *m, uint64_t produced, uint64_t delivered,
				   uint64_t failed, lsn_t watermark);
/* Kafka messages a restart skipped (kafka.dedupe_on_restart) since the
 * last call. */
void metrics_kafka_skipped(struct metrics *m, uint64_t skipped);

/* Seconds since the epoch of a PostgreSQL timestamptz text such as
 * "2026-11-25 00:19:22.792388+00" or "...+05:30"; < 0 if unparsable. */
double metrics_parse_time(const char *text);

#endif
