-- from: wal2json sql/specialvalue.sql
-- what: infinities and NaN in float and numeric columns, NULLs, and text with quotes, backslashes, control characters and non-ASCII letters
-- tables: xpto
-- @source
CREATE TABLE xpto (a serial PRIMARY KEY, b bool, c varchar(60), d real, e numeric, f float8);
-- @dml
BEGIN;
INSERT INTO xpto (b, c, d, e, f) VALUES ('t', 'test1', '+inf', 'Infinity', '-inf');
INSERT INTO xpto (b, c, d, e, f) VALUES ('f', 'test2', 'nan', 'NaN', 'NaN');
INSERT INTO xpto (b, c, d, e, f) VALUES (NULL, 'null', '-inf', '-Infinity', 1e308);
INSERT INTO xpto (b, c, d, e, f)
  VALUES (true, E'valid: '' " \\ / \b \f \n \r \t \u207F \u967F invalid: \\g \\k end', 123.456, 0.1, -0.0);
COMMIT;
UPDATE xpto SET d = 'inf' WHERE a = 4;
-- @expect
-- wal2json 2.5 sends NaN and the infinities of float and numeric columns
-- as JSON null (they are no JSON numbers, and this version has no
-- numeric-data-types-as-string option), so walpipe can only store NULL.
-- expect xpto: SELECT a, b, c,
  CASE WHEN d::text IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE d END,
  CASE WHEN e::text IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE e END,
  CASE WHEN f::text IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE f END
  FROM xpto
