-- from: wal2json sql/specialvalue.sql
-- what: infinities and NaN in float and numeric columns, NULLs, and text with quotes, backslashes, control characters and non-ASCII letters
-- tables: xpto
-- @source
CREATE TABLE xpto (a serial PRIMARY KEY, b bool, c varchar(120), d real, e numeric, f float8);
-- @dml
BEGIN;
INSERT INTO xpto (b, c, d, e, f) VALUES ('t', 'pos inf', '+inf', 'Infinity', '-inf');
INSERT INTO xpto (b, c, d, e, f) VALUES ('f', 'nan', 'nan', 'NaN', 'NaN');
INSERT INTO xpto (b, c, d, e, f) VALUES (NULL, 'neg inf', '-inf', '-Infinity', 1e308);
INSERT INTO xpto (b, c, d, e, f)
  VALUES (true, E'quote '' dquote " backslash \\ slash / bs \b ff \f nl \n cr \r tab \t \u207F \u967F \u00e9 not escapes: \\g \\u00e9 \\k', 123.456, 0.1, -0.0);
COMMIT;
UPDATE xpto SET d = 'inf' WHERE a = 4;
-- @expect
-- wal2json 2.5 sends NaN and the infinities of float and numeric columns
-- as JSON null (they are no JSON numbers, and this version has no
-- numeric-data-types-as-string option), so walpipe can only store NULL;
-- pgoutput sends their text: the source's rows exactly.
-- expect[wal2json] xpto: SELECT a, b, c,
  CASE WHEN d::text IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE d END,
  CASE WHEN e::text IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE e END,
  CASE WHEN f::text IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE f END
  FROM xpto
