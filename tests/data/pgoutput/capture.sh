#!/usr/bin/env bash
# capture.sh: the workload behind captured.txt (pgoutput, protocol 1, as
# lsn|hex of each message), wal2json.jsonl (wal2json 2.5, the options
# walpipe uses plus include-types) and format_type.txt (format_type of
# built-in types).  Run with PGTZ=UTC under tests/harness/with-clusters;
# expected.jsonl is what the decoder makes of captured.txt, checked
# against wal2json.jsonl by test_pgoutput.
set -euo pipefail
ps() { psql "$WALPIPE_TEST_SOURCE" -X -A -t -q -v ON_ERROR_STOP=1 "$@"; }
ps -c "SET TIME ZONE 'UTC'" 
ps <<'SQL'
CREATE TYPE mood AS ENUM ('sad','happy');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE SCHEMA s2;
CREATE TABLE t (id int PRIMARY KEY, v varchar(20), n numeric(10,2), f float8, b bool, ts timestamptz,
  arr int[], m mood, d posint, big text, j jsonb, r real, i8 bigint, tm time(3), nn numeric, iv interval day to second(2), bits bit(3), vb varbit, ch char(4), ma mood[]);
CREATE TABLE toast_t (id int PRIMARY KEY, big text, small int);
CREATE TABLE full_t (a int, b text);
ALTER TABLE full_t REPLICA IDENTITY FULL;
CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child (id int PRIMARY KEY, pid int REFERENCES parent(id));
CREATE TABLE s2.x (k int PRIMARY KEY, "Odd Name" text);
CREATE PUBLICATION p FOR ALL TABLES;
SELECT pg_create_logical_replication_slot('po', 'pgoutput');
SELECT pg_create_logical_replication_slot('wj', 'wal2json');
SQL
ps <<'SQL'
INSERT INTO t VALUES (1, 'héllo "q"', 1.50, 'NaN', true, '2026-11-24 23:26:41.15+00', '{1,2,NULL}', 'happy', 5, repeat('x', 10000), '{"a": [1, 2]}', '-Infinity', 9223372036854775807, '12:34:56.789', 12345678901234567890.123456789, '1 day 02:03:04.5', B'101', B'1', 'ab', '{sad,happy}');
INSERT INTO t (id, f, n, nn) VALUES (2, 'Infinity', NULL, 'NaN');
UPDATE t SET v = 'changed' WHERE id = 1;
UPDATE t SET id = 10 WHERE id = 2;
DELETE FROM t WHERE id = 10;
INSERT INTO toast_t SELECT 1, string_agg(md5(i::text), ''), 1 FROM generate_series(1, 300) i;
UPDATE toast_t SET small = 2;
INSERT INTO full_t VALUES (1, 'a'), (1, 'a');
UPDATE full_t SET b = 'b' WHERE a = 1;
DELETE FROM full_t;
INSERT INTO s2.x VALUES (1, E'tab\there\nnl');
BEGIN; SELECT pg_logical_emit_message(true, 'pfx', 'hello'); INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1, 1); COMMIT;
SELECT pg_logical_emit_message(false, 'walpipe_heartbeat', 'nontx');
TRUNCATE parent CASCADE;
TRUNCATE full_t, s2.x RESTART IDENTITY;
ALTER TABLE s2.x ADD COLUMN extra int;
SELECT pg_replication_origin_create('upstream');

INSERT INTO s2.x VALUES (2, 'y', 7);
SELECT pg_replication_origin_session_setup('upstream');
BEGIN; SELECT pg_replication_origin_xact_setup('0/ABCDEF', now()); INSERT INTO s2.x VALUES (3, NULL, NULL); COMMIT;
SELECT pg_replication_origin_session_reset();
SQL
echo "== pgoutput"
ps -c "SELECT lsn, xid, encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes('po', NULL, NULL, 'proto_version', '1', 'publication_names', 'p', 'messages', 'true')"
echo "== wal2json"
ps -c "SELECT lsn, xid, data FROM pg_logical_slot_peek_changes('wj', NULL, NULL, 'format-version', '2', 'include-xids', '1', 'include-timestamp', '1', 'include-lsn', '1', 'include-pk', '1', 'include-types', '1')"
