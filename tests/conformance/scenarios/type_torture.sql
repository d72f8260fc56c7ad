-- from: walpipe, issue 14 item 2 (the types of PostgreSQL's src/test/subscription/t/002_types.pl, widened to every built-in family)
-- what: every built-in type family, enums, domains (over a base type, an enum and an array), composites with arrays inside, ranges and multiranges (also of a user-defined range), hstore, citext and arrays of them, mirrored 1:1 without type:, through inserts, updates (also leaving TOASTed values out), deletes and key changes
-- tables: torture, torture_user
-- @source
CREATE EXTENSION citext;
CREATE EXTENSION hstore;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'it''s "x"');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE DOMAIN mood_dom AS mood;
CREATE DOMAIN moods AS mood[];
CREATE TYPE pt AS (x float8, tags text[], m mood);
CREATE TYPE frange AS RANGE (subtype = float8);
CREATE TABLE torture (id int PRIMARY KEY,
  i2 smallint, i8 bigint, num numeric(20, 5), f4 real, f8 float8, m money,
  c char(5), vc varchar(10), t text, b bytea, bo bool,
  d date, ti time, ttz timetz, ts timestamp(3), tstz timestamptz, iv interval,
  u uuid, j json, jb jsonb, x xml,
  ip inet, cd cidr, mac macaddr, mac8 macaddr8, bt bit(4), vb varbit,
  tv tsvector, tq tsquery,
  p point, l line, ls lseg, bx box, pa path, pg polygon, ci circle,
  r int4range, r8 int8range, nr numrange, dr daterange, tsr tsrange,
  tstzr tstzrange, mr int4multirange, dmr datemultirange,
  lsn pg_lsn, o oid,
  ia int[], ta text[], tm text[][], jba jsonb[], tsa timestamptz[], ipa inet[]);
CREATE TABLE torture_user (id int PRIMARY KEY, m mood, md mood_dom, ms moods,
  ma mood[], pi posint, c pt, cs pt[], fr frange, frs frange[],
  fmr fmultirange, h hstore, hs hstore[], ct citext, cts citext[]);
-- @analytics
CREATE EXTENSION citext;
CREATE EXTENSION hstore;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'it''s "x"');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE DOMAIN mood_dom AS mood;
CREATE DOMAIN moods AS mood[];
CREATE TYPE pt AS (x float8, tags text[], m mood);
CREATE TYPE frange AS RANGE (subtype = float8);
CREATE TABLE torture (id int PRIMARY KEY,
  i2 smallint, i8 bigint, num numeric(20, 5), f4 real, f8 float8, m money,
  c char(5), vc varchar(10), t text, b bytea, bo bool,
  d date, ti time, ttz timetz, ts timestamp(3), tstz timestamptz, iv interval,
  u uuid, j json, jb jsonb, x xml,
  ip inet, cd cidr, mac macaddr, mac8 macaddr8, bt bit(4), vb varbit,
  tv tsvector, tq tsquery,
  p point, l line, ls lseg, bx box, pa path, pg polygon, ci circle,
  r int4range, r8 int8range, nr numrange, dr daterange, tsr tsrange,
  tstzr tstzrange, mr int4multirange, dmr datemultirange,
  lsn pg_lsn, o oid,
  ia int[], ta text[], tm text[][], jba jsonb[], tsa timestamptz[], ipa inet[]);
CREATE TABLE torture_user (id int PRIMARY KEY, m mood, md mood_dom, ms moods,
  ma mood[], pi posint, c pt, cs pt[], fr frange, frs frange[],
  fmr fmultirange, h hstore, hs hstore[], ct citext, cts citext[]);
-- @dml
INSERT INTO torture VALUES (1,
  -32768, 9223372036854775807, 123456789012345.12345, 1.5e-7, -1.7976931348623157e308, '$1,234.56',
  'ab', 'x,y"z', E'tab\there\nnewline \\ back "q" ''s', '\x00ff5c22', true,
  'infinity', '24:00', '23:59:59.999999+14', '2026-11-30 10:00:00.123', '-infinity', '-1 year 2 mons 3 days 04:05:06.789',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2.50, "x"], "b": null}', '{"k": {"deep": [true, false]}}', '<a href="x">t&amp;</a>',
  '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05', B'1010', B'101',
  'a fat cat sat on a mat', 'fat & (rat | cat)',
  '(1.5,-2)', '{1,-1,0}', '[(0,0),(1,1)]', '(2,2),(0,0)', '[(0,0),(1,1),(2,0)]', '((0,0),(1,1),(1,0))', '<(1,1),2>',
  '[1,10)', '(,5]', '[1.5,2.5]', '[2026-01-01,infinity)', '[2026-01-01 10:00,2026-01-02)',
  '[2026-01-01 10:00+00,)', '{[1,3),[5,7)}', '{[2026-01-01,2026-02-01)}',
  '16/B374D848', 4294967295,
  '{1,NULL,3}', '{"a b","c,d","e\"f",NULL,""}', '{{a,b},{c,d}}', ARRAY['{"x": 1}'::jsonb, 'null'], '{"2026-11-30 10:00:00+00",infinity}', '{::1,10.1.2.3/32}');
INSERT INTO torture (id) VALUES (2);
INSERT INTO torture (id, t, b, jb, ta) VALUES (3, repeat('toast me ', 5000), decode(repeat('ab', 40000), 'hex'), jsonb_build_object('big', repeat('y', 20000)), ARRAY[repeat('z', 9000)]);
UPDATE torture SET i2 = 7, vc = 'changed' WHERE id = 3;
UPDATE torture SET id = 4 WHERE id = 3;
UPDATE torture SET m = '-0.01', iv = 'P1Y2M3DT4H5M6S', mr = '{}', dmr = '{(,)}', tsa = '{}' WHERE id = 1;
INSERT INTO torture_user VALUES (1, 'it''s "x"', 'ok', '{sad,happy}', '{ok,NULL}', 5,
  ROW(1.25, '{"a,b",NULL}', 'happy'), ARRAY[ROW(1, '{}', 'sad')::pt, ROW(NULL, NULL, NULL)::pt],
  '[1.5,2.5)', '{"[1,2)",empty}', '{[1,2),[3,4]}', 'a=>1, "b c"=>NULL, "q\"uote"=>"x"', ARRAY['x=>y'::hstore, ''],
  'MiXeD', '{A,b,"C d"}');
INSERT INTO torture_user (id) VALUES (2);
INSERT INTO torture_user VALUES (3, 'sad', 'happy', '{}', '{}', 1, ROW(NULL, '{}', NULL), '{}', 'empty', '{}', '{}', '', '{}', '', '{}');
UPDATE torture_user SET c.tags = '{x}', ms = ms || 'ok'::mood, h = h || 'n=>2' WHERE id = 1;
UPDATE torture_user SET id = 5 WHERE id = 2;
DELETE FROM torture_user WHERE id = 3;
DELETE FROM torture WHERE id = 2;
