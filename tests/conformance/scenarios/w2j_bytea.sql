-- from: wal2json sql/bytea.sql
-- what: bytea values, small and large (TOASTed): inserts, an update that leaves the value out, a delete
-- tables: xpto
-- @source
CREATE SEQUENCE xpto_rand_seq START 11 INCREMENT 997;
CREATE TABLE xpto (id serial PRIMARY KEY, rand1 float8 DEFAULT nextval('xpto_rand_seq'), bincol bytea);
-- @dml
INSERT INTO xpto (bincol)
  SELECT decode(string_agg(to_char(round(g.i * 0.08122019), 'FM0000'), ''), 'hex') FROM generate_series(500, 5000) g(i);
INSERT INTO xpto (bincol) VALUES ('\x00ff7f80'), (''), (NULL), (E'\\x5c27220a');
UPDATE xpto SET rand1 = 123.456 WHERE id = 1;
UPDATE xpto SET bincol = bincol || '\xdeadbeef' WHERE id = 2;
DELETE FROM xpto WHERE id = 4;
