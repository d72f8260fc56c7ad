-- from: wal2json sql/delete3.sql
-- what: deletes under REPLICA IDENTITY FULL set for the moment: the old row comes whole, the primary key finds it
-- tables: table_with_pk
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
-- The original's keyless tables are left out: without a key walpipe can
-- only append (see rep_changes_full).
-- @dml
INSERT INTO table_with_pk (b, c, d, e, f, g, h, i, j, k, l, m, n, o, p)
  VALUES (1, 2, 3, 7.125, 123.4567891, 1.23, 'fixed', 'varying', 'a longer text value', B'1011001', '2016-07-01 08:15:00', '2016-07-01', true, '{ "k" : [1, 2.50, null] }', 'fat cat sat mat'::tsvector);
INSERT INTO table_with_pk (b, c, d, e, f, g, h, i, j, k, l, m, n, o, p)
  VALUES (4, 5, 6, 7.125, 123.4567891, 1.23, 'fixed', 'varying', 'a longer text value', B'1011001', '2016-07-01 08:15:00', '2016-07-01', true, '{ "k" : [1, 2.50, null] }', 'fat cat sat mat'::tsvector);
INSERT INTO table_with_pk (b, c, d, e, f, g, h, i, j, k, l, m, n, o, p)
  VALUES (7, 8, 9, 7.125, 123.4567891, 1.23, 'fixed', 'varying', 'a longer text value', B'1011001', '2016-07-01 08:15:00', '2016-07-01', false, '{ "k" : [1, 2.50, null] }', 'fat cat sat mat'::tsvector);
ALTER TABLE table_with_pk REPLICA IDENTITY FULL;
DELETE FROM table_with_pk WHERE b = 1;
DELETE FROM table_with_pk WHERE n = true;
ALTER TABLE table_with_pk REPLICA IDENTITY DEFAULT;
