-- from: walpipe issue 14, item 1 (schemas of Prisma and Entity Framework: "User", "createdAt")
-- what: schema, table and column names in mixed case and with spaces, dots, quotes, a comma, a backslash, a * and non-ASCII letters mirror 1:1 through inserts, updates, key changes, deletes and a truncate
-- tables: public."User", public."Post", "Sales ""Dept"".Ü"."order.items ""é""", public."a,b\c*"
-- @source
CREATE TABLE "User" (id text PRIMARY KEY, "email" text NOT NULL,
  "createdAt" timestamp(3) NOT NULL DEFAULT '2026-01-01 00:00:00.5',
  "isAdmin" boolean NOT NULL DEFAULT false, "Profile" jsonb);
CREATE TABLE "Post" (id serial PRIMARY KEY, "authorId" text NOT NULL,
  "Title" text NOT NULL, "published" boolean NOT NULL DEFAULT false);
CREATE SCHEMA "Sales ""Dept"".Ü";
CREATE TABLE "Sales ""Dept"".Ü"."order.items ""é""" ("line no." int PRIMARY KEY,
  "qty ""n""" int, größe text, "Ä b.c" text);
CREATE TABLE public."a,b\c*" (id int PRIMARY KEY, "V" text);
-- @dml
INSERT INTO "User" (id, email, "isAdmin", "Profile") VALUES
  ('cu1', 'a@x', true, '{"ui.theme": "dark"}'), ('cu2', 'b@x', false, NULL),
  ('cu3', 'c@x', false, '{"Key": 1}');
INSERT INTO "Post" ("authorId", "Title") SELECT 'cu' || (1 + g % 3), 'Post "' || g || '"'
  FROM generate_series(1, 20) g;
UPDATE "User" SET "isAdmin" = NOT "isAdmin", "createdAt" = '2026-03-03 03:03:03.333' WHERE id = 'cu2';
UPDATE "User" SET id = 'cu3-renamed' WHERE id = 'cu3';
UPDATE "Post" SET published = true, "Title" = "Title" || ', edited' WHERE id % 4 = 0;
UPDATE "Post" SET id = id + 100 WHERE id IN (3, 5);
DELETE FROM "Post" WHERE id % 7 = 0;
DELETE FROM "User" WHERE id = 'cu1';
INSERT INTO "Sales ""Dept"".Ü"."order.items ""é""" VALUES
  (1, 10, 'groß', 'a'), (2, 20, 'klein', NULL), (3, NULL, 'mittel', 'c"d'), (4, 4, 'vier', 'e.f');
UPDATE "Sales ""Dept"".Ü"."order.items ""é""" SET "qty ""n""" = 11, größe = 'größer' WHERE "line no." = 1;
UPDATE "Sales ""Dept"".Ü"."order.items ""é""" SET "line no." = 20 WHERE "line no." = 2;
DELETE FROM "Sales ""Dept"".Ü"."order.items ""é""" WHERE "line no." = 3;
INSERT INTO public."a,b\c*" VALUES (1, 'one'), (2, 'two'), (3, 'three');
TRUNCATE public."a,b\c*";
INSERT INTO public."a,b\c*" VALUES (4, 'four');
UPDATE public."a,b\c*" SET "V" = 'FOUR' WHERE id = 4;
