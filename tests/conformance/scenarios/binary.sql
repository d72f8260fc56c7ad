-- from: postgres src/test/subscription/t/014_binary.pl
-- what: numeric, float, bigint and array values (the binary transfer test's data), a base type of its own without send/receive functions, and a target column of a narrower type than the source's
-- tables: test_numerical, test_arrays, test_myvarchar, test_mismatching_types
-- @source
-- walpipe moves text, never binary: what the original checks is that the
-- values survive either way, also for a type without binary I/O and into a
-- column of another type.
CREATE TABLE test_numerical (a integer PRIMARY KEY, b numeric, c float, d bigint);
CREATE TABLE test_arrays (a integer[] PRIMARY KEY, b numeric[], c text[]);
CREATE TYPE myvarchar;
CREATE FUNCTION myvarcharin(cstring, oid, integer) RETURNS myvarchar
  LANGUAGE internal IMMUTABLE PARALLEL SAFE STRICT AS 'varcharin';
CREATE FUNCTION myvarcharout(myvarchar) RETURNS cstring
  LANGUAGE internal IMMUTABLE PARALLEL SAFE STRICT AS 'varcharout';
CREATE TYPE myvarchar (input = myvarcharin, output = myvarcharout);
CREATE TABLE test_myvarchar (id int PRIMARY KEY, a myvarchar);
CREATE TABLE test_mismatching_types (a bigint PRIMARY KEY);
-- @analytics
CREATE TABLE test_numerical (a integer PRIMARY KEY, b numeric, c float, d bigint);
CREATE TABLE test_arrays (a integer[] PRIMARY KEY, b numeric[], c text[]);
CREATE TYPE myvarchar;
CREATE FUNCTION myvarcharin(cstring, oid, integer) RETURNS myvarchar
  LANGUAGE internal IMMUTABLE PARALLEL SAFE STRICT AS 'varcharin';
CREATE FUNCTION myvarcharout(myvarchar) RETURNS cstring
  LANGUAGE internal IMMUTABLE PARALLEL SAFE STRICT AS 'varcharout';
CREATE TYPE myvarchar (input = myvarcharin, output = myvarcharout);
CREATE TABLE test_myvarchar (id int PRIMARY KEY, a myvarchar);
-- int, not the source's bigint: values that fit arrive.
CREATE TABLE test_mismatching_types (a int PRIMARY KEY);
-- @dml
INSERT INTO test_numerical VALUES (1, 10.5, 0.1, 9223372036854775807), (2, -0.000001, -1e-300, -1);
INSERT INTO test_arrays VALUES ('{5,6,7}', '{0.5,1.50,-2}', '{"five","six","seven"}'),
  ('{7,6,5}', '{12345678901234567890.123456789}', '{"a,b","{c}",NULL}');
INSERT INTO test_numerical VALUES (3, 123456789012345678901234567890.1, 1.7976931348623157e308, 0),
  (4, 1e-20, 5e-324, 4);
INSERT INTO test_arrays VALUES ('{6,5,7}', '{3.3}', '{}'), ('{5,7,6}', NULL, '{"x"}');
UPDATE test_arrays SET b[1] = 42, c = NULL;
UPDATE test_numerical SET b = 42, c = NULL WHERE a < 4;
INSERT INTO test_numerical VALUES (5, 5.25, 5.5, 50);
INSERT INTO test_arrays VALUES ('{6,7,5}', '{1.2,1.3,1.1}', '{"six","seven","five"}');
INSERT INTO test_myvarchar VALUES (1, 'a'), (2, 'with space'), (3, '');
UPDATE test_myvarchar SET a = 'b' WHERE id = 1;
INSERT INTO test_mismatching_types VALUES (1), (2), (2147483647);
DELETE FROM test_mismatching_types WHERE a = 2;
