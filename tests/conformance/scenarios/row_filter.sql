-- from: postgres src/test/subscription/t/028_row_filter.pl
-- what: mappings with a where clause (publication row filters): inserts, updates and deletes of rows that match and stay matching, or never match; filters on partitions and on inherited tables
-- tables: tab_rowfilter_1, tab_rowfilter_2, tab_rowfilter_3, tab_rowfilter_4, tab_rowfilter_less_10k, tab_rowfilter_greater_10k, tab_rowfilter_inherited, tab_rowfilter_child
-- @source
-- Publications of several filters OR them together; one without a filter
-- wins.  Here each mapping has the resulting where clause.  The parts of
-- the original about the initial copy and publish_via_partition_root have
-- no counterpart (snapshot: never; wal2json names leaf partitions).
CREATE TABLE tab_rowfilter_1 (a int PRIMARY KEY, b text);
ALTER TABLE tab_rowfilter_1 REPLICA IDENTITY FULL;
CREATE TABLE tab_rowfilter_2 (c int PRIMARY KEY);
CREATE TABLE tab_rowfilter_3 (a int PRIMARY KEY, b boolean);
CREATE TABLE tab_rowfilter_4 (c int PRIMARY KEY);
CREATE TABLE tab_rowfilter_partitioned (a int PRIMARY KEY, b integer) PARTITION BY RANGE (a);
CREATE TABLE tab_rowfilter_less_10k (LIKE tab_rowfilter_partitioned);
ALTER TABLE tab_rowfilter_partitioned ATTACH PARTITION tab_rowfilter_less_10k
  FOR VALUES FROM (MINVALUE) TO (10000);
CREATE TABLE tab_rowfilter_greater_10k (LIKE tab_rowfilter_partitioned);
ALTER TABLE tab_rowfilter_partitioned ATTACH PARTITION tab_rowfilter_greater_10k
  FOR VALUES FROM (10000) TO (MAXVALUE);
CREATE TABLE tab_rowfilter_inherited (a int);
CREATE TABLE tab_rowfilter_child (b text) INHERITS (tab_rowfilter_inherited);
-- @analytics
CREATE TABLE tab_rowfilter_1 (a int PRIMARY KEY, b text);
CREATE TABLE tab_rowfilter_2 (c int PRIMARY KEY);
CREATE TABLE tab_rowfilter_3 (a int PRIMARY KEY, b boolean);
CREATE TABLE tab_rowfilter_4 (c int PRIMARY KEY);
CREATE TABLE tab_rowfilter_less_10k (a int PRIMARY KEY, b integer);
CREATE TABLE tab_rowfilter_greater_10k (a int PRIMARY KEY, b integer);
CREATE TABLE tab_rowfilter_inherited (a int);
CREATE TABLE tab_rowfilter_child (b text) INHERITS (tab_rowfilter_inherited);
-- @mapping
  - from: public.tab_rowfilter_1
    to: public.tab_rowfilter_1
    key: [a]
    columns: { a: a, b: b }
    where: "a > 1000 AND b <> 'filtered'"
  - from: public.tab_rowfilter_2
    to: public.tab_rowfilter_2
    key: [c]
    columns: { c: c }
    where: "c % 2 = 0 OR c % 3 = 0"
  - from: public.tab_rowfilter_less_10k
    to: public.tab_rowfilter_less_10k
    key: [a]
    columns: { a: a, b: b }
    where: "a < 6000"
  - from: public.tab_rowfilter_inherited
    to: public.tab_rowfilter_inherited
    mode: append
    columns: { a: a }
    where: "a > 15"
  - from: public.tab_rowfilter_child
    to: public.tab_rowfilter_child
    mode: append
    columns: { a: a, b: b }
    where: "a > 15"
-- @dml
INSERT INTO tab_rowfilter_1 (a, b) VALUES (7, 'below the bound');
INSERT INTO tab_rowfilter_1 (a, b) VALUES (1450, 'filtered');
INSERT INTO tab_rowfilter_1 (a, b) VALUES (1990, 'kept');
INSERT INTO tab_rowfilter_1 (a, b) SELECT x, 'test ' || x FROM generate_series(995, 1005) x;
INSERT INTO tab_rowfilter_2 (c) SELECT generate_series(1, 20);
INSERT INTO tab_rowfilter_3 (a, b) SELECT x, (x % 3 = 0) FROM generate_series(1, 10) x;
INSERT INTO tab_rowfilter_4 (c) SELECT generate_series(1, 10);
INSERT INTO tab_rowfilter_partitioned (a, b) VALUES (1, 100), (7000, 101), (15000, 102), (5500, 300);
INSERT INTO tab_rowfilter_less_10k (a, b) VALUES (2, 200), (6005, 201);
INSERT INTO tab_rowfilter_greater_10k (a, b) VALUES (16000, 103);
INSERT INTO tab_rowfilter_inherited (a) VALUES (10), (20);
INSERT INTO tab_rowfilter_child (a, b) VALUES (0, '0'), (30, '30'), (40, '40');
INSERT INTO tab_rowfilter_1 (a, b) VALUES (850, 'test 850');
INSERT INTO tab_rowfilter_1 (a, b) VALUES (1651, 'test 1651');
INSERT INTO tab_rowfilter_1 (a, b) VALUES (1750, 'test 1750');
-- Matching before and after.
UPDATE tab_rowfilter_1 SET b = 'test 1651 updated' WHERE a = 1651;
-- Matching neither before nor after.
UPDATE tab_rowfilter_1 SET b = 'test 850 updated' WHERE a = 850;
UPDATE tab_rowfilter_1 SET b = 'still not' WHERE a = 7;
DELETE FROM tab_rowfilter_1 WHERE a = 1750;
DELETE FROM tab_rowfilter_1 WHERE a = 1450;
INSERT INTO tab_rowfilter_2 (c) VALUES (21), (22), (23), (24), (25);
INSERT INTO tab_rowfilter_4 (c) VALUES (0), (11), (12);
INSERT INTO tab_rowfilter_inherited (a) VALUES (14), (16);
INSERT INTO tab_rowfilter_child (a, b) VALUES (13, '13'), (17, '17');
INSERT INTO tab_rowfilter_partitioned (a, b) VALUES (4000, 400), (4001, 401), (4002, 402);
INSERT INTO tab_rowfilter_less_10k (a, b) VALUES (4500, 450);
INSERT INTO tab_rowfilter_less_10k (a, b) VALUES (5600, 123);
INSERT INTO tab_rowfilter_greater_10k (a, b) VALUES (14000, 1950);
UPDATE tab_rowfilter_less_10k SET b = 30 WHERE a = 4001;
UPDATE tab_rowfilter_less_10k SET b = 31 WHERE a = 7000;
DELETE FROM tab_rowfilter_less_10k WHERE a = 4002;
DELETE FROM tab_rowfilter_less_10k WHERE a = 6005;
-- @expect
-- expect tab_rowfilter_1: SELECT * FROM tab_rowfilter_1 WHERE a > 1000 AND b <> 'filtered'
-- expect tab_rowfilter_2: SELECT * FROM tab_rowfilter_2 WHERE c % 2 = 0 OR c % 3 = 0
-- expect tab_rowfilter_less_10k: SELECT * FROM tab_rowfilter_less_10k WHERE a < 6000
-- expect tab_rowfilter_inherited: SELECT * FROM tab_rowfilter_inherited WHERE a > 15
-- expect tab_rowfilter_child: SELECT * FROM tab_rowfilter_child WHERE a > 15
