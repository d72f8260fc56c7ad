-- from: wal2json sql/update4.sql
-- what: REPLICA IDENTITY USING a unique index of a table without a primary key, for the moment: updates of other columns and of the index's own columns
-- tables: table_with_unique
-- @source
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
-- @analytics
-- Keyed by the unique index the source uses as its replica identity while
-- the updates happen.
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
-- @mapping
  - from: public.table_with_unique
    to: public.table_with_unique
    key: [g, n]
    columns: { a: a, b: b, c: c, d: d, e: e, f: f, g: g, h: h, i: i, j: j, k: k, l: l, m: m, n: n, o: o, p: p }
-- @dml
INSERT INTO table_with_unique (b, c, d, e, f, g, h, i, j, k, l, m, n, o, p)
  VALUES (1, 2, 3, 7.125, 123.4567891, 1.23, 'fixed', 'varying', 'a longer text value', B'1011001', '2016-07-01 08:15:00', '2016-07-01', false, '{ "k" : [1, 2.50, null] }', 'fat cat sat mat'::tsvector);
INSERT INTO table_with_unique (b, c, d, e, f, g, h, i, j, k, l, m, n, o, p)
  VALUES (4, 5, 6, 7.125, 123.4567891, 4.56, 'fixed', 'varying', 'a longer text value', B'1011001', '2016-07-01 08:15:00', '2016-07-01', true, '{ "k" : [1, 2.50, null] }', 'fat cat sat mat'::tsvector);
ALTER TABLE table_with_unique REPLICA IDENTITY USING INDEX table_with_unique_g_n_key;
UPDATE table_with_unique SET c = -c WHERE b = 1;
UPDATE table_with_unique SET g = -g WHERE n = true;
ALTER TABLE table_with_unique REPLICA IDENTITY DEFAULT;
