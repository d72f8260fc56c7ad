-- from: wal2json sql/typmod.sql
-- what: columns with type modifiers (numeric(5,3), char(10), varchar(30), bit varying(20)) and types without: inserts, an update, a delete
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
-- @dml
INSERT INTO table_with_pk (b, c, d, e, f, g, h, i, j, k, l, m, n, o, p)
  VALUES (1, 2, 3, 7.125, 123.4567891, 1.23, 'fixed', 'varying', 'a longer text value', B'1011001', '2016-07-01 08:15:00', '2016-07-01', true, '{ "k" : [1, 2.50, null] }', 'fat cat sat mat'::tsvector);
INSERT INTO table_with_pk (b, c, d, e, f, g, h, i, j, k, l, m, n, o, p)
  VALUES (2, 3, 4, 7.125, 123.4567891, 1.23, 'fixed', 'varying', 'a longer text value', B'1011001', '2016-07-01 08:15:00', '2016-07-01', true, '{ "k" : [1, 2.50, null] }', 'fat cat sat mat'::tsvector);
UPDATE table_with_pk SET f = -f, e = 99.999, h = 'x', i = repeat('y', 30), k = B'1' WHERE b = 1;
DELETE FROM table_with_pk WHERE b = 2;
