# exact_names.sh: names in SQL's notation (issue 14, item 1).  A
# Prisma-style schema ("User", "Post", "createdAt", an enum "Role") mirrors
# 1:1 into same-named analytics tables with no type:, and a schema, a
# table and columns whose names hold a space, a dot, a " and a non-ASCII
# letter, plus a table whose name holds a comma, a backslash and a * (what
# wal2json's add-tables must be told with escapes), all through the
# initial snapshot and the stream (insert, update, delete, key change),
# with staging and the walpipe schema itself under quoted names.
set -euo pipefail
. "$WALPIPE_TEST_HARNESS"
. "$WALPIPE_TEST_ASSERT"
. "$WALPIPE_SOURCE_DIR/tests/integration/run_lib.sh"
T=$WALPIPE_TEST_TMPDIR

DDL='CREATE TYPE "Role" AS ENUM ('\''USER'\'', '\''ADMIN'\'');
CREATE TABLE "User" (id text PRIMARY KEY, "email" text NOT NULL UNIQUE,
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "role" "Role" NOT NULL DEFAULT '\''USER'\'', "profile" jsonb);
CREATE TABLE "Post" (id serial PRIMARY KEY, "authorId" text NOT NULL
  REFERENCES "User" (id), "title" text NOT NULL, "published" boolean NOT NULL
  DEFAULT false);
CREATE SCHEMA "Sales ""Dept"".Ü";
CREATE TABLE "Sales ""Dept"".Ü"."order.items ""é""" ("line no." int PRIMARY KEY,
  "qty ""n""" int, größe text, "Ä b.c" text);
CREATE TABLE public."a,b\c*" (id int PRIMARY KEY, v text);'
src -c "$DDL"
ana -c "$DDL"
ana -c 'CREATE SCHEMA analytics; CREATE TABLE analytics."User Themes" ("userId" text PRIMARY KEY, "ui.theme" text, "darkMode" boolean)'
src <<'SQL'
INSERT INTO "User" (id, email, "createdAt", role, profile)
  SELECT 'cu' || g, 'u' || g || '@x', '2026-01-01 12:00:00.123'::timestamp + g * interval '1 hour',
    (ARRAY['USER', 'ADMIN']::"Role"[])[1 + g % 2],
    jsonb_build_object('ui.theme', 'theme' || g, 'darkMode', g % 2 = 0, 'Nested', jsonb_build_object('Key', g))
  FROM generate_series(1, 50) g;
INSERT INTO "Post" ("authorId", title, published)
  SELECT 'cu' || (1 + g % 50), 'Post "' || g || '"', g % 3 = 0 FROM generate_series(1, 120) g;
INSERT INTO "Sales ""Dept"".Ü"."order.items ""é""" VALUES
  (1, 10, 'groß', 'a'), (2, 20, 'klein', NULL), (3, NULL, 'mittel', 'c');
INSERT INTO public."a,b\c*" VALUES (1, 'one');
SQL

port=$(pgc_free_port)
scrape() { # the /metrics page
	exec 3<>"/dev/tcp/127.0.0.1/$port"
	printf 'GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
	sed '1,/^\r$/d' <&3
	exec 3<&-
}

W="$T/names.yaml"
cat >"$W" <<EOF
source:
  name: shop
  conninfo: "$WALPIPE_TEST_SOURCE"
  slot: walpipe_shop
  create_slot: true
  tables:
    - public."User"
    - public."Post"
    - '"Sales ""Dept"".Ü"."order.items ""é"""'
    - 'public."a,b\c*"'
target:
  conninfo: "$WALPIPE_TEST_ANALYTICS"
  schema: '"Walpipe Ä"'
batch: { max_changes: 1000, max_bytes: 64MB, max_delay: 50ms }
staging:
  table: '"Raw Ëvents"."all changes"'
metrics: { listen: "127.0.0.1:$port" }
mappings:
  - from: public."User"
    to: public."User"
    key: [id]
    columns:
      id: id
      email: email
      '"createdAt"': '"createdAt"'
      role: role
      profile: profile
  # JSON keys are exact; a key with a dot is quoted.
  - from: public."User"
    to: analytics."User Themes"
    key: ['"userId"']
    columns:
      '"userId"': id
      '"ui.theme"': { from: 'profile."ui.theme"', type: text }
      '"darkMode"': { from: profile.darkMode, type: boolean }
  - from: public."Post"
    to: public."Post"
    key: [id]
    columns:
      id: id
      '"authorId"': '"authorId"'
      title: title
      published: published
  - from: '"Sales ""Dept"".Ü"."order.items ""é"""'
    to: '"Sales ""Dept"".Ü"."order.items ""é"""'
    key: ['"line no."']
    columns:
      '"line no."': '"line no."'
      '"qty ""n"""': '"qty ""n"""'
      größe: größe
      '"Ä b.c"': '"Ä b.c"'
  - from: 'public."a,b\c*"'
    to: 'public."a,b\c*"'
    key: [id]
    columns: { id: id, v: v }
EOF

"$WALPIPE_BIN" check -c "$W" >"$T/check.log" 2>&1 || { cat "$T/check.log"; fail "check refused the names"; }
assert_contains "check shows the names as written" \
	'mapping: "Sales ""Dept"".Ü"."order.items ""é""" -> "Sales ""Dept"".Ü"."order.items ""é""" (upsert on "line no.", 4 column(s))' \
	"$(cat "$T/check.log")"
"$WALPIPE_BIN" check -c "$W" --live >"$T/live.log" 2>&1 || { cat "$T/live.log"; fail "check --live refused the names"; }

WP='"Walpipe Ä"'
sums() { # PSQL_FN: every mirrored table, in full
	"$1" -c "SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM \"User\" t" \
		-c "SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM \"Post\" t" \
		-c "SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, ',' ORDER BY \"line no.\"), '')) FROM \"Sales \"\"Dept\"\".Ü\".\"order.items \"\"é\"\"\" t" \
		-c "SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM public.\"a,b\\c*\" t"
}
themes_src() {
	src -c "SELECT md5(coalesce(string_agg(id || '|' || (profile->>'ui.theme') || '|' || (profile->>'darkMode'), ',' ORDER BY id), '')) FROM \"User\""
}
themes_ana() {
	ana -c "SELECT md5(coalesce(string_agg(\"userId\" || '|' || \"ui.theme\" || '|' || \"darkMode\", ',' ORDER BY \"userId\"), '')) FROM analytics.\"User Themes\""
}
caught_up() {
	wait_sql ana "SELECT coalesce((SELECT lsn FROM $WP.checkpoints WHERE source = 'shop'), '0/0') >= '$(src -c "SELECT pg_current_wal_lsn()")'" "$pid"
}

run_start "$W" "$T/run.log"
trap '[ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null || true' EXIT
wait_sql ana "SELECT count(*) = 4 FROM $WP.snapshot_tables WHERE state = 'done'" "$pid" || { cat "$T/run.log"; fail "the snapshot did not finish"; }
assert_eq "snapshot: analytics = source" "$(sums src)" "$(sums ana)"
assert_eq "snapshot: JSON keys with a dot and in camel case" "$(themes_src)" "$(themes_ana)"
assert_eq "snapshot state names the tables in the notation" \
	'"Sales ""Dept"".Ü"."order.items ""é"""|public."Post"|public."User"|public."a,b\c*"' \
	"$(ana -c "SELECT string_agg(source_table, '|' ORDER BY source_table COLLATE \"C\") FROM $WP.snapshot_tables")"

# The stream: inserts, updates, deletes and key changes on every table.
src <<'SQL'
INSERT INTO "User" (id, email, role, profile) VALUES
  ('cu51', 'new@x', 'ADMIN', '{"ui.theme": "dark", "darkMode": true}'),
  ('cu52', 'other@x', DEFAULT, NULL);
UPDATE "User" SET role = 'ADMIN', profile = profile || '{"ui.theme": "changed"}'
  WHERE id IN ('cu3', 'cu4', 'cu51');
-- a key change of a user without posts
UPDATE "User" SET id = 'cu52-renamed', "createdAt" = '2026-02-02 02:02:02.5' WHERE id = 'cu52';
INSERT INTO "Post" ("authorId", title) VALUES ('cu51', 'Hello, "world"'), ('cu52-renamed', 'second');
UPDATE "Post" SET published = NOT published, title = title || ' (edited)' WHERE id % 10 = 0;
UPDATE "Post" SET id = id + 1000 WHERE id IN (7, 8);
DELETE FROM "Post" WHERE id % 11 = 0;
DELETE FROM "User" u WHERE NOT EXISTS (SELECT FROM "Post" p WHERE p."authorId" = u.id) AND id <> 'cu52-renamed';
INSERT INTO "Sales ""Dept"".Ü"."order.items ""é""" VALUES (4, 40, 'neu', 'd"e'), (5, 50, 'fünf', 'e.f');
UPDATE "Sales ""Dept"".Ü"."order.items ""é""" SET "qty ""n""" = 11, größe = 'größer' WHERE "line no." = 1;
UPDATE "Sales ""Dept"".Ü"."order.items ""é""" SET "line no." = 20 WHERE "line no." = 2;
DELETE FROM "Sales ""Dept"".Ü"."order.items ""é""" WHERE "line no." = 3;
INSERT INTO public."a,b\c*" VALUES (2, 'two');
UPDATE public."a,b\c*" SET v = 'uno' WHERE id = 1;
SQL
caught_up || { cat "$T/run.log"; fail "walpipe did not catch up"; }
assert_eq "stream: analytics = source" "$(sums src)" "$(sums ana)"
assert_eq "stream: JSON keys with a dot and in camel case" "$(themes_src)" "$(themes_ana)"
assert_eq "no dead letters" 0 "$(ana -c "SELECT count(*) FROM $WP.dead_letters")"

# Staging: every change under its exact names (3 copied rows, then 2
# inserted, 1 updated, 1 key change (an update), 1 deleted).
assert_eq "staging rows of the odd table" 8 \
	"$(ana -c "SELECT count(*) FROM \"Raw Ëvents\".\"all changes\" WHERE source_schema = 'Sales \"Dept\".Ü' AND source_table = 'order.items \"é\"'")"
assert_eq "staging rows of the comma table" 3 \
	"$(ana -c "SELECT count(*) FROM \"Raw Ëvents\".\"all changes\" WHERE source_schema = 'public' AND source_table = 'a,b\\c*'")"
assert_eq "staging names what wal2json sent" 'Post|User|a,b\c*|order.items "é"' \
	"$(ana -c "SELECT string_agg(t, '|' ORDER BY t) FROM (SELECT DISTINCT source_table COLLATE \"C\" AS t FROM \"Raw Ëvents\".\"all changes\") s")"

# Metrics: the table label in the notation, escaped as the exposition
# format wants (\" for each ").
scrape >"$T/metrics"
assert_contains "metrics: a quoted table's label" \
	'walpipe_changes_applied_total{source="shop",table="\"Sales \"\"Dept\"\".Ü\".\"order.items \"\"é\"\"\"",op="I"} 2' \
	"$(cat "$T/metrics")"
assert_contains "metrics: the snapshot of a quoted table" \
	'walpipe_snapshot_table_done{source="shop",table="public.\"a,b\\c*\""} 1' \
	"$(cat "$T/metrics")"

"$WALPIPE_BIN" status -c "$W" >"$T/status.log" 2>&1 || { cat "$T/status.log"; fail "status failed"; }
assert_contains "status: the snapshot of a quoted table" 'snapshot "Sales ""Dept"".Ü"."order.items ""é""" state                  done' "$(cat "$T/status.log")"
assert_contains "status: staging" 'table                  "Raw Ëvents"."all changes"' "$(cat "$T/status.log")"
run_down
echo "ok: exact_names"
