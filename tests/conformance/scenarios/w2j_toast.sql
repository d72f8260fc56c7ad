-- from: wal2json sql/toast.sql
-- what: TOASTed values, external uncompressed and compressed: inserts, an update that sets one, updates that leave them out of the change, a delete
-- tables: xpto
-- @source
CREATE SEQUENCE xpto_rand_seq START 11 INCREMENT 997;
CREATE TABLE xpto (
  id serial PRIMARY KEY,
  toasted_col1 text,
  rand1 float8 DEFAULT nextval('xpto_rand_seq'),
  toasted_col2 text,
  rand2 float8 DEFAULT nextval('xpto_rand_seq')
);
-- @dml
-- Stored out of line, uncompressed (digits compress badly).
INSERT INTO xpto (toasted_col1, toasted_col2)
  SELECT string_agg(g.i::text, ''), string_agg((g.i * 2)::text, '') FROM generate_series(1, 2000) g(i);
-- Stored out of line, compressed.
INSERT INTO xpto (toasted_col2)
  SELECT repeat(string_agg(to_char(g.i, 'FM0000'), ''), 50) FROM generate_series(1, 500) g(i);
INSERT INTO xpto (toasted_col1, toasted_col2) VALUES ('short', 'short');
UPDATE xpto SET toasted_col1 = (SELECT string_agg(g.i::text, '') FROM generate_series(1, 2000) g(i)) WHERE id = 1;
-- Both TOASTed columns unchanged: absent from the change.
UPDATE xpto SET rand1 = 123.456 WHERE id = 1;
UPDATE xpto SET rand2 = 654.321, toasted_col1 = 'now short' WHERE id = 2;
-- An insert and an update of one row in one transaction.
BEGIN;
INSERT INTO xpto (toasted_col1, toasted_col2) SELECT repeat('abc', 10000), repeat(md5('x'), 1000);
UPDATE xpto SET rand1 = -1 WHERE id = 4;
COMMIT;
DELETE FROM xpto WHERE id = 3;
