-- from: postgres src/test/subscription/t/002_types.pl
-- what: arrays, enums, composites (also as keys and nested), ranges, hstore and a domain with a check, through inserts, updates and deletes
-- tables: tst_one_array, tst_arrays, tst_one_enum, tst_enums, tst_one_comp, tst_comps, tst_comp_enum, tst_comp_enum_array, tst_comp_one_enum_array, tst_comp_enum_what, tst_comp_mix_array, tst_range, tst_range_array, tst_hstore, tst_dom_constr
-- @source
CREATE EXTENSION hstore;
CREATE TYPE tst_enum_t AS ENUM ('a', 'b', 'c', 'd', 'e');
CREATE TYPE tst_comp_basic_t AS (a float, b text, c integer);
CREATE TYPE tst_comp_enum_t AS (a float, b tst_enum_t, c integer);
CREATE TYPE tst_comp_enum_array_t AS (a float, b tst_enum_t[], c integer);
CREATE TYPE tst_comp_mix_t AS (a tst_comp_basic_t, b tst_comp_basic_t[], c tst_enum_t, d tst_enum_t[]);
CREATE TABLE tst_one_array (a integer PRIMARY KEY, b integer[]);
CREATE TABLE tst_arrays (a integer[] PRIMARY KEY, b text[], c float[], d interval[]);
CREATE TABLE tst_one_enum (a integer PRIMARY KEY, b tst_enum_t);
CREATE TABLE tst_enums (a tst_enum_t PRIMARY KEY, b tst_enum_t[]);
CREATE TABLE tst_one_comp (a integer PRIMARY KEY, b tst_comp_basic_t);
CREATE TABLE tst_comps (a tst_comp_basic_t PRIMARY KEY, b tst_comp_basic_t[]);
CREATE TABLE tst_comp_enum (a integer PRIMARY KEY, b tst_comp_enum_t);
CREATE TABLE tst_comp_enum_array (a tst_comp_enum_t PRIMARY KEY, b tst_comp_enum_t[]);
CREATE TABLE tst_comp_one_enum_array (a integer PRIMARY KEY, b tst_comp_enum_array_t);
CREATE TABLE tst_comp_enum_what (a tst_comp_enum_array_t PRIMARY KEY, b tst_comp_enum_array_t[]);
CREATE TABLE tst_comp_mix_array (a tst_comp_mix_t PRIMARY KEY, b tst_comp_mix_t[]);
CREATE TABLE tst_range (a integer PRIMARY KEY, b int4range);
CREATE TABLE tst_range_array (a integer PRIMARY KEY, b tstzrange, c int8range[]);
CREATE TABLE tst_hstore (a integer PRIMARY KEY, b hstore);
SET check_function_bodies = off;
CREATE FUNCTION monot_incr(int) RETURNS bool LANGUAGE sql
  AS 'SELECT $1 > coalesce(max(a), 0) FROM public.tst_dom_constr';
CREATE DOMAIN monot_int AS int CHECK (monot_incr(VALUE));
CREATE TABLE tst_dom_constr (a monot_int);
-- @analytics
-- The same types on the analytics side; the domain's check runs there too.
CREATE EXTENSION hstore;
CREATE TYPE tst_enum_t AS ENUM ('a', 'b', 'c', 'd', 'e');
CREATE TYPE tst_comp_basic_t AS (a float, b text, c integer);
CREATE TYPE tst_comp_enum_t AS (a float, b tst_enum_t, c integer);
CREATE TYPE tst_comp_enum_array_t AS (a float, b tst_enum_t[], c integer);
CREATE TYPE tst_comp_mix_t AS (a tst_comp_basic_t, b tst_comp_basic_t[], c tst_enum_t, d tst_enum_t[]);
CREATE TABLE tst_one_array (a integer PRIMARY KEY, b integer[]);
CREATE TABLE tst_arrays (a integer[] PRIMARY KEY, b text[], c float[], d interval[]);
CREATE TABLE tst_one_enum (a integer PRIMARY KEY, b tst_enum_t);
CREATE TABLE tst_enums (a tst_enum_t PRIMARY KEY, b tst_enum_t[]);
CREATE TABLE tst_one_comp (a integer PRIMARY KEY, b tst_comp_basic_t);
CREATE TABLE tst_comps (a tst_comp_basic_t PRIMARY KEY, b tst_comp_basic_t[]);
CREATE TABLE tst_comp_enum (a integer PRIMARY KEY, b tst_comp_enum_t);
CREATE TABLE tst_comp_enum_array (a tst_comp_enum_t PRIMARY KEY, b tst_comp_enum_t[]);
CREATE TABLE tst_comp_one_enum_array (a integer PRIMARY KEY, b tst_comp_enum_array_t);
CREATE TABLE tst_comp_enum_what (a tst_comp_enum_array_t PRIMARY KEY, b tst_comp_enum_array_t[]);
CREATE TABLE tst_comp_mix_array (a tst_comp_mix_t PRIMARY KEY, b tst_comp_mix_t[]);
CREATE TABLE tst_range (a integer PRIMARY KEY, b int4range);
CREATE TABLE tst_range_array (a integer PRIMARY KEY, b tstzrange, c int8range[]);
CREATE TABLE tst_hstore (a integer PRIMARY KEY, b hstore);
SET check_function_bodies = off;
CREATE FUNCTION monot_incr(int) RETURNS bool LANGUAGE sql
  AS 'SELECT $1 > coalesce(max(a), 0) FROM public.tst_dom_constr';
CREATE DOMAIN monot_int AS int CHECK (monot_incr(VALUE));
CREATE TABLE tst_dom_constr (a monot_int);
-- @dml
BEGIN;
INSERT INTO tst_one_array SELECT g, ARRAY[g, g * 10, NULLIF(g % 3, 0)] FROM generate_series(1, 6) g;
INSERT INTO tst_arrays VALUES
  ('{7,8,9}', '{"x","y z","q\"uote"}', '{0.5,-1.25,1e10}', '{"1 day","36 hours","2 mons 3 days"}'),
  ('{9,8,7}', '{"",NULL,"{braces}"}', '{NULL,3.5}', '{"90 seconds","-1 day"}'),
  ('{1}', '{"one"}', '{1}', '{"1 year 2 mons"}'),
  ('{2,NULL}', '{"two",NULL}', '{2.5,NULL}', '{NULL,"2 minutes"}');
INSERT INTO tst_one_enum VALUES (1, 'e'), (2, 'd'), (3, 'a'), (4, NULL);
INSERT INTO tst_enums VALUES ('a', '{a,e}'), ('b', '{}'), ('c', '{NULL,b}'), ('e', NULL);
INSERT INTO tst_one_comp VALUES (1, ROW(0.25, 'with, comma', 7)), (2, ROW(NULL, '', 0)),
  (3, ROW(-3, 'a "quoted" b', NULL)), (4, NULL);
INSERT INTO tst_comps VALUES
  (ROW(1.5, 'k1', 1), ARRAY[ROW(1, 'x', 1)::tst_comp_basic_t, ROW(2, 'y', 2)::tst_comp_basic_t]),
  (ROW(2.5, 'k2', NULL), ARRAY[NULL, ROW(NULL, NULL, NULL)::tst_comp_basic_t]),
  (ROW(3.5, 'k (3)', 3), '{}');
INSERT INTO tst_comp_enum VALUES (1, ROW(1, 'c', 1)), (2, ROW(2, NULL, 2)), (3, ROW(NULL, 'e', NULL));
INSERT INTO tst_comp_enum_array VALUES
  (ROW(1, 'a', 10), ARRAY[ROW(1, 'b', 1)::tst_comp_enum_t]),
  (ROW(2, 'b', 20), ARRAY[ROW(2, 'c', 2)::tst_comp_enum_t, NULL]),
  (ROW(3, 'c', 30), NULL);
INSERT INTO tst_comp_one_enum_array VALUES
  (1, ROW(1, '{a,b}', 1)), (2, ROW(2, '{}', 2)), (3, ROW(3, '{NULL,d}', NULL));
INSERT INTO tst_comp_enum_what VALUES
  (ROW(1, '{a,b}', 1), ARRAY[ROW(1, '{c}', 1)::tst_comp_enum_array_t]),
  (ROW(2, '{e,NULL}', 2), ARRAY[ROW(2, '{d,e}', 2)::tst_comp_enum_array_t, ROW(NULL, '{}', NULL)::tst_comp_enum_array_t]),
  (ROW(3, '{}', NULL), '{}');
INSERT INTO tst_comp_mix_array VALUES
  (ROW(ROW(1, 'p', 1), ARRAY[ROW(1, 'p', 1)::tst_comp_basic_t, NULL], 'b', '{b,NULL}'),
   ARRAY[ROW(ROW(2, 'q', 2), ARRAY[ROW(2, 'q "2"', 2)::tst_comp_basic_t], 'c', '{c,d}')::tst_comp_mix_t, NULL]),
  (ROW(ROW(3, 'r', 3), '{}', NULL, NULL), NULL);
INSERT INTO tst_range VALUES (1, '[1, 5]'), (2, '(2, 20)'), (3, 'empty'), (4, '[4,)'), (5, NULL);
INSERT INTO tst_range_array VALUES
  (1, tstzrange('2021-03-28 01:30:00+01', '2021-03-28 03:30:00+02'), '{"[1,2]","(10,20)"}'),
  (2, tstzrange('2014-08-02 00:00:00+02', NULL, '[]'), '{"empty",NULL}'),
  (3, tstzrange(NULL, 'infinity'), '{}'),
  (4, NULL, NULL);
INSERT INTO tst_hstore VALUES (1, 'k=>v'), (2, '"with space"=>"and, comma", n=>NULL'), (3, ''),
  (4, '"quote\"d"=>"back\\slash"');
INSERT INTO tst_dom_constr VALUES (5);
COMMIT;

BEGIN;
UPDATE tst_one_array SET b = b || 0 WHERE a % 2 = 0;
UPDATE tst_one_array SET b = NULL WHERE a = 5;
UPDATE tst_arrays SET b = '{"changed"}', c = '{}', d = d || '3 days'::interval WHERE a = '{7,8,9}';
UPDATE tst_arrays SET b[2] = 'two', c = NULL WHERE a[1] = 2;
UPDATE tst_one_enum SET b = 'b' WHERE a = 1;
UPDATE tst_one_enum SET b = 'c' WHERE b IS NULL;
UPDATE tst_enums SET b = b || 'd'::tst_enum_t WHERE a < 'c';
UPDATE tst_enums SET b = '{e,e}' WHERE a = 'e';
UPDATE tst_one_comp SET b = ROW(9, 'nine', 9) WHERE a = 1;
UPDATE tst_one_comp SET b.b = 'field set' WHERE a = 3;
UPDATE tst_comps SET b = b || ROW(3, 'z', 3)::tst_comp_basic_t WHERE (a).b = 'k1';
UPDATE tst_comps SET b = NULL WHERE (a).c IS NULL;
UPDATE tst_comp_enum SET b = ROW(5, 'a', 5) WHERE a = 2;
UPDATE tst_comp_enum_array SET b = ARRAY[NULL, ROW(9, 'e', 9)::tst_comp_enum_t] WHERE (a).c = 30;
UPDATE tst_comp_one_enum_array SET b = ROW(7, '{e,d,c}', 7) WHERE a = 2;
UPDATE tst_comp_enum_what SET b = ARRAY[ROW(8, '{a}', 8)::tst_comp_enum_array_t] WHERE (a).c IS NULL;
UPDATE tst_comp_mix_array SET b[1] = NULL WHERE ((a).a).a = 1;
UPDATE tst_range SET b = '[10, 100)' WHERE a IN (1, 3);
UPDATE tst_range SET b = '(,0]' WHERE a = 5;
UPDATE tst_range_array SET c = '{"[100,1000]"}' WHERE a = 1;
UPDATE tst_range_array SET b = tstzrange('2020-01-01 00:00:00+00', '2020-01-02 00:00:00+00') WHERE a = 4;
UPDATE tst_hstore SET b = b || 'added=>yes' WHERE a <= 2;
UPDATE tst_hstore SET b = NULL WHERE a = 3;
COMMIT;

-- Deletes, located by keys of every kind.
DELETE FROM tst_one_array WHERE a = 6;
DELETE FROM tst_arrays WHERE a = '{1}';
DELETE FROM tst_one_enum WHERE a = 3;
DELETE FROM tst_enums WHERE a = 'b';
DELETE FROM tst_one_comp WHERE b IS NULL;
DELETE FROM tst_comps WHERE (a).a = 3.5;
DELETE FROM tst_comp_enum WHERE a = 3;
DELETE FROM tst_comp_enum_array WHERE (a).b = 'a';
DELETE FROM tst_comp_one_enum_array WHERE a = 1;
DELETE FROM tst_comp_enum_what WHERE (a).a = 2;
DELETE FROM tst_comp_mix_array WHERE ((a).a).a = 3;
DELETE FROM tst_range WHERE b = 'empty' OR a = 2;
DELETE FROM tst_range_array WHERE b IS NULL AND c IS NULL;
DELETE FROM tst_hstore WHERE b ? 'k';
-- The domain's check passes on the source, and must pass on the target
-- with the rows it holds.
INSERT INTO tst_dom_constr VALUES (6);
