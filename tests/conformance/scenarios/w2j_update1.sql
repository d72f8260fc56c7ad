-- from: wal2json sql/update1.sql
-- what: updates of a composite primary key's table, with and without a key change, of a keyless table and of a table whose unique index is not its replica identity
-- tables: table_with_pk, table_without_pk, table_with_unique
-- @source
CREATE TABLE table_with_pk (
  a smallserial,
  b smallint,
  c int,
  d bigint,
  e numeric(5,3),
  f real NOT NULL,
  g double precision,
  h char(10),
  i varchar(30),
  j text,
  k bit varying(20),
  l timestamp,
  m date,
  n boolean NOT NULL,
  o json,
  p tsvector,
  PRIMARY KEY (b, c, d)
);
CREATE TABLE table_without_pk (
  a smallserial,
  b smallint,
  c int,
  d bigint,
  e numeric(5,3),
  f real NOT NULL,
  g double precision,
  h char(10),
  i varchar(30),
  j text,
  k bit varying(20),
  l timestamp,
  m date,
  n boolean NOT NULL,
  o json,
  p tsvector
);
CREATE TABLE table_with_unique (
  a smallserial,
  b smallint,
  c int,
  d bigint,
  e numeric(5,3) NOT NULL,
  f real NOT NULL,
  g double precision NOT NULL,
  h char(10),
  i varchar(30),
  j text,
  k bit varying(20),
  l timestamp,
  m date,
  n boolean NOT NULL,
  o json,
  p tsvector,
  UNIQUE (g, n)
);
-- table_without_pk and table_with_unique have no primary key and the
-- default replica identity: wal2json drops their updates and deletes (with a
-- server warning), their append targets keep the rows as inserted.
-- @dml
INSERT INTO table_with_pk (b, c, d, e, f, g, h, i, j, k, l, m, n, o, p)
  VALUES (1, 2, 3, 7.125, 123.4567891, 1.23, 'fixed', 'varying', 'a longer text value', B'1011001', '2016-07-01 08:15:00', '2016-07-01', true, '{ "k" : [1, 2.50, null] }', 'fat cat sat mat'::tsvector);
INSERT INTO table_with_pk (b, c, d, e, f, g, h, i, j, k, l, m, n, o, p)
  VALUES (5, 6, 7, 7.125, 123.4567891, 1.23, 'fixed', 'varying', 'a longer text value', B'1011001', '2016-07-01 08:15:00', '2016-07-01', true, '{ "k" : [1, 2.50, null] }', 'fat cat sat mat'::tsvector);
INSERT INTO table_without_pk (b, c, d, e, f, g, h, i, j, k, l, m, n, o, p)
  VALUES (1, 2, 3, 7.125, 123.4567891, 1.23, 'fixed', 'varying', 'a longer text value', B'1011001', '2016-07-01 08:15:00', '2016-07-01', true, '{ "k" : [1, 2.50, null] }', 'fat cat sat mat'::tsvector);
INSERT INTO table_with_unique (b, c, d, e, f, g, h, i, j, k, l, m, n, o, p)
  VALUES (1, 2, 3, 7.125, 123.4567891, 1.23, 'fixed', 'varying', 'a longer text value', B'1011001', '2016-07-01 08:15:00', '2016-07-01', true, '{ "k" : [1, 2.50, null] }', 'fat cat sat mat'::tsvector);
CREATE TABLE kept_without_pk AS SELECT * FROM table_without_pk;
CREATE TABLE kept_with_unique AS SELECT * FROM table_with_unique;
UPDATE table_without_pk SET f = -f WHERE b = 1;
-- No key change.
UPDATE table_with_pk SET f = -f WHERE b = 1;
-- A key change.
UPDATE table_with_pk SET b = -b WHERE b = 1;
UPDATE table_with_pk SET c = c * 10, j = 'changed' WHERE b = 5;
UPDATE table_with_unique SET n = false WHERE b = 1;
-- @expect
-- expect table_without_pk: SELECT * FROM kept_without_pk
-- expect table_with_unique: SELECT * FROM kept_with_unique
