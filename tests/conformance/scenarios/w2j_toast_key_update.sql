-- from: wal2json sql/toast.sql
-- what: a primary key update of rows whose TOASTed columns do not change: the new key keeps the values
-- tables: xpto
-- @source
CREATE TABLE xpto (id int PRIMARY KEY, toasted_col1 text, rand1 float8, toasted_col2 text);
-- @dml
INSERT INTO xpto SELECT 1, string_agg(g.i::text, ''), 1.5, repeat('z', 5000) FROM generate_series(1, 2000) g(i);
INSERT INTO xpto SELECT 2, repeat(md5('y'), 1000), 2.5, NULL;
UPDATE xpto SET id = 10 WHERE id = 1;
-- Key and another column, in one transaction with a later update.
BEGIN;
UPDATE xpto SET id = 20, rand1 = 20.5 WHERE id = 2;
UPDATE xpto SET rand1 = 21.5 WHERE id = 20;
COMMIT;
