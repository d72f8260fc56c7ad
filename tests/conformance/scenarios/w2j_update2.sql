-- from: wal2json sql/update2.sql
-- what: updates under REPLICA IDENTITY NOTHING, which wal2json drops: the targets keep the rows as they were; later updates under the default identity arrive
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
-- REPLICA IDENTITY NOTHING: wal2json drops updates and deletes (a server
-- warning); no consumer can see them.  The original's keyless tables have
-- nothing else to show and are left out.
-- The rows before the dropped update, for the expect query (not streamed).
CREATE TABLE kept (LIKE table_with_pk);
-- @dml
INSERT INTO table_with_pk (b, c, d, e, f, g, h, i, j, k, l, m, n, o, p)
  VALUES (1, 2, 3, 7.125, 123.4567891, 1.23, 'fixed', 'varying', 'a longer text value', B'1011001', '2016-07-01 08:15:00', '2016-07-01', true, '{ "k" : [1, 2.50, null] }', 'fat cat sat mat'::tsvector);
INSERT INTO table_with_pk (b, c, d, e, f, g, h, i, j, k, l, m, n, o, p)
  VALUES (5, 6, 7, 7.125, 123.4567891, 1.23, 'fixed', 'varying', 'a longer text value', B'1011001', '2016-07-01 08:15:00', '2016-07-01', true, '{ "k" : [1, 2.50, null] }', 'fat cat sat mat'::tsvector);
INSERT INTO kept SELECT * FROM table_with_pk WHERE b = 1;
ALTER TABLE table_with_pk REPLICA IDENTITY NOTHING;
UPDATE table_with_pk SET f = -f WHERE b = 1;
UPDATE table_with_pk SET f = -f WHERE b = 5;
ALTER TABLE table_with_pk REPLICA IDENTITY DEFAULT;
-- This one arrives whole and brings b = 5 up to date.
UPDATE table_with_pk SET j = 'seen' WHERE b = 5;
-- @expect
-- expect table_with_pk: SELECT * FROM kept UNION ALL SELECT * FROM table_with_pk WHERE b = 5
