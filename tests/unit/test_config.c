/* test_config.c: the configuration loader against the bad and good corpus. */
#include "walpipe/config.h"
#include "walpipe/buf.h"
#include "walpipe/version.h"

/* The configuration table itself, to walk every key of it. */
#include "../../src/config_int.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t) n + 1);
	if (fread(buf, 1, (size_t) n, f) != (size_t) n)
		n = 0;
	fclose(f);
	return buf;
}

static int
chdir_data(const char *sub)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/config/%s",
			 getenv("WALPIPE_TEST_DATA") ? getenv("WALPIPE_TEST_DATA")
										 : "tests/data",
			 sub);
	return chdir(path);
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Files about Kafka are for builds with it (test_kafka_build covers the
 * others). */
static bool
skip_kafka(const char *name)
{
	return !WALPIPE_HAVE_KAFKA && strstr(name, "kafka") != NULL;
}

/* A kafka section: accepted with librdkafka, refused clearly without. */
static void
test_kafka_build(void **state)
{
	static const char yaml[] = "source:\n"
							   "  name: shop\n"
							   "  conninfo: \"dbname=shop\"\n"
							   "  tables: [public.orders]\n"
							   "kafka:\n"
							   "  brokers: \"localhost:9092\"\n";
	struct config_errors errs;
	struct wp_config *cfg;

	(void) state;
	cfg = config_load_string("k.yaml", yaml, strlen(yaml), &errs);
	if (WALPIPE_HAVE_KAFKA) {
		if (cfg == NULL)
			fail_msg("kafka alone rejected: %s", errs.msg[0]);
		assert_true(cfg->kafka.enabled);
		assert_string_equal(cfg->kafka.topic, "{source}.{schema}.{table}");
		assert_string_equal(cfg->kafka.format, "debezium");
		assert_true(cfg->kafka.tombstones);
		assert_null(cfg->target.conninfo);
	} else {
		assert_null(cfg);
		assert_int_equal(errs.n, 1);
		assert_string_equal(errs.msg[0],
							"k.yaml:6:3: kafka: this walpipe was built "
							"without Kafka support (-DWALPIPE_KAFKA=OFF); "
							"remove the kafka section or use a build with "
							"librdkafka");
	}
	config_free(cfg);
	config_errors_free(&errs);
}

/*
 * A line of a .expected file that starts with this is an error only a
 * build without Kafka reports: its refusal of the kafka section, besides
 * the errors every build reports for a file not about Kafka.
 */
#define WITHOUT_KAFKA "without kafka: "

/* Each bad/NAME.yaml fails with exactly the lines of bad/NAME.expected. */
static void
test_bad_corpus(void **state)
{
	DIR *dir;
	struct dirent *de;
	int cases = 0;

	(void) state;
	assert_int_equal(chdir_data("bad"), 0);
	dir = opendir(".");
	assert_non_null(dir);
	while ((de = readdir(dir)) != NULL) {
		char expected_path[512];
		char *expected;
		struct config_errors errs;
		struct wp_config *cfg;
		bool unreadable;
		size_t line = 0;
		char *save = NULL, *tok;

		if (!ends_with(de->d_name, ".yaml") || skip_kafka(de->d_name))
			continue;
		snprintf(expected_path, sizeof(expected_path), "%.*s.expected",
				 (int) strlen(de->d_name) - 5, de->d_name);
		expected = slurp(expected_path);
		if (expected == NULL)
			fail_msg("%s has no %s", de->d_name, expected_path);
		cfg = config_load(de->d_name, &errs, &unreadable);
		if (cfg != NULL)
			fail_msg("%s was accepted", de->d_name);
		assert_false(unreadable);
		for (tok = strtok_r(expected, "\n", &save); tok;
			 tok = strtok_r(NULL, "\n", &save)) {
			if (strncmp(tok, WITHOUT_KAFKA, strlen(WITHOUT_KAFKA)) == 0) {
				if (WALPIPE_HAVE_KAFKA)
					continue;
				tok += strlen(WITHOUT_KAFKA);
			}
			if (line >= errs.n)
				fail_msg("%s: missing error %zu: %s", de->d_name, line + 1, tok);
			if (strcmp(errs.msg[line], tok) != 0)
				fail_msg("%s: error %zu\n  got:  %s\n  want: %s", de->d_name,
						 line + 1, errs.msg[line], tok);
			line++;
		}
		if (line != errs.n)
			fail_msg("%s: %zu errors, expected %zu (extra: %s)", de->d_name,
					 errs.n, line, errs.msg[line]);
		free(expected);
		config_errors_free(&errs);
		cases++;
	}
	closedir(dir);
	assert_true(cases >= 40);
	printf("%d bad configurations rejected with the exact messages\n", cases);
}

static void
test_good_corpus(void **state)
{
	DIR *dir;
	struct dirent *de;
	int cases = 0;

	(void) state;
	assert_int_equal(chdir_data("good"), 0);
	dir = opendir(".");
	assert_non_null(dir);
	while ((de = readdir(dir)) != NULL) {
		struct config_errors errs;
		struct wp_config *cfg;
		bool unreadable;

		if (!ends_with(de->d_name, ".yaml") || skip_kafka(de->d_name))
			continue;
		cfg = config_load(de->d_name, &errs, &unreadable);
		if (cfg == NULL)
			fail_msg("%s rejected: %s", de->d_name, errs.msg[0]);
		assert_int_equal(errs.n, 0);
		config_free(cfg);
		cases++;
	}
	closedir(dir);
	assert_true(cases >= 2);
}

static void
test_values_and_defaults(void **state)
{
	static const char yaml[] =
		"source:\n"
		"  name: shop\n"
		"  conninfo: \"dbname=shop\"\n"
		"  tables: [public.orders, public.order_events]\n"
		"target: { conninfo: \"dbname=a\" }\n"
		"batch: { max_bytes: 2MB, max_delay: 5m }\n"
		"staging: { table: stg.raw, retention: 90d }\n"
		"mappings:\n"
		"  - from: public.orders\n"
		"    to: analytics.fact_orders\n"
		"    key: [order_id]\n"
		"    columns:\n"
		"      order_id: id\n"
		"      amount: { from: amount, type: \"numeric(15,4)\" }\n"
		"      uid: { from: payload.user.id, type: bigint }\n"
		"      v: { sql: \"least(value, 1)\" }\n"
		"      lsn: $lsn\n"
		"      deleted_at: { sql: \"null::timestamptz\" }\n"
		"    where: \"status <> 'test'\"\n"
		"    on_delete: { soft_delete: deleted_at }\n"
		"    on_truncate: ignore\n"
		"  - from: public.order_events\n"
		"    to: analytics.ev\n"
		"    mode: append\n"
		"    columns: { id: id }\n";
	struct config_errors errs;
	struct wp_config *c =
		config_load_string("t.yaml", yaml, sizeof(yaml) - 1, &errs);
	const struct map_rule *r;
	char *tables;

	(void) state;
	if (c == NULL)
		fail_msg("%s", errs.msg[0]);
	assert_string_equal(c->source.slot, "walpipe_shop"); /* default */
	assert_false(c->source.create_slot);
	assert_int_equal(c->source.status_interval_ms, 10000);
	assert_string_equal(c->target.schema, "walpipe");
	assert_int_equal(c->batch.max_changes, 10000);
	assert_int_equal(c->batch.max_bytes, 2 * 1024 * 1024);
	assert_int_equal(c->batch.max_delay_ms, 300000);
	assert_true(c->staging.enabled);
	assert_string_equal(c->staging.schema, "stg");
	assert_string_equal(c->staging.partition, "month");
	assert_int_equal(c->staging.retention_ms, 90LL * 86400000);
	assert_string_equal(c->log.level, "info");
	assert_null(c->metrics.listen);
	assert_int_equal(c->nmappings, 2);
	r = &c->mappings[0].rule;
	assert_int_equal(r->mode, MAP_MODE_UPSERT);
	assert_int_equal(r->ncols, 6);
	assert_int_equal(r->cols[1].src, MAP_SRC_COLUMN);
	assert_string_equal(r->cols[1].type, "numeric(15,4)");
	assert_int_equal(r->cols[2].src, MAP_SRC_PATH);
	assert_string_equal(r->cols[2].column, "payload");
	assert_int_equal(r->cols[2].npath, 2);
	assert_string_equal(r->cols[2].path[1], "id");
	assert_int_equal(r->cols[3].src, MAP_SRC_SQL);
	assert_int_equal(r->cols[4].src, MAP_SRC_META);
	assert_int_equal(r->cols[4].meta, MAP_META_LSN);
	assert_string_equal(r->where, "status <> 'test'");
	assert_int_equal(r->on_delete, MAP_DELETE_SOFT);
	assert_string_equal(r->soft_delete_column, "deleted_at");
	assert_int_equal(r->on_truncate, MAP_TRUNCATE_IGNORE);
	/* Append without a key: deletes cannot be matched, so ignored. */
	assert_int_equal(c->mappings[1].rule.mode, MAP_MODE_APPEND);
	assert_int_equal(c->mappings[1].rule.on_delete, MAP_DELETE_IGNORE);
	tables = config_tables_list(c);
	assert_string_equal(tables, "public.orders,public.order_events");
	free(tables);
	config_free(c);
	config_free(NULL);
	config_errors_free(NULL);
}

static void
test_unreadable(void **state)
{
	struct config_errors errs;
	bool unreadable = false;

	(void) state;
	assert_null(config_load("/nonexistent/walpipe.yaml", &errs, &unreadable));
	assert_true(unreadable);
	assert_string_equal(errs.msg[0], "could not open configuration file "
									 "\"/nonexistent/walpipe.yaml\": No such "
									 "file or directory");
	config_errors_free(&errs);
}

/*
 * What a reload may not change, from the configuration table's reload
 * flags: where walpipe reads from and writes to, and the metrics address;
 * batch sizes, staging and Kafka settings may change.
 */
static void
test_fixed_changes(void **state)
{
	static const char a[] =
		"source: { name: shop, conninfo: \"dbname=shop\", slot: s1,\n"
		"          tables: [public.orders] }\n"
		"target: { conninfo: \"dbname=analytics\" }\n"
		"batch: { max_changes: 10 }\n"
		"metrics: { listen: \"127.0.0.1:9187\" }\n"
		"mappings:\n"
		"  - { from: public.orders, to: a.f, key: [id], columns: { id: id } }\n";
	static const char b[] =
		"source: { name: shop, conninfo: \"dbname=shop\", slot: s2,\n"
		"          tables: [public.orders, public.users] }\n"
		"target: { conninfo: \"dbname=analytics\", schema: other }\n"
		"batch: { max_changes: 20 }\n"
		"metrics: { listen: \"127.0.0.1:9188\" }\n"
		"staging: { table: s.raw }\n"
		"mappings:\n"
		"  - { from: public.orders, to: a.f, key: [id], columns: { id: id } }\n";
	struct config_errors errs;
	struct wp_config *ca, *cb;
	char **keys;
	size_t n;

	(void) state;
	ca = config_load_string("a.yaml", a, sizeof(a) - 1, &errs);
	assert_non_null(ca);
	config_errors_free(&errs);
	cb = config_load_string("b.yaml", b, sizeof(b) - 1, &errs);
	assert_non_null(cb);
	config_errors_free(&errs);
	n = config_fixed_changes(ca, cb, &keys);
	/* source.tables may change: the next session streams the new list. */
	assert_int_equal(n, 3);
	assert_string_equal(keys[0], "source.slot");
	assert_string_equal(keys[1], "target.schema");
	assert_string_equal(keys[2], "metrics.listen");
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	assert_int_equal(config_fixed_changes(ca, ca, &keys), 0);
	free(keys);
	config_free(ca);
	config_free(cb);
}

/* A valid file: a few sections, with key set to value in section. */
static bool two_values(const struct field *f, char *a, char *b, size_t len);

static char *
yaml_with(const struct field *section, const char *key, const char *value)
{
	static const struct {
		const char *name, *keys[5], *values[5];
	} base[] = {
		/* An explicit slot: a new name would change the default one;
		 * pgoutput: source.publication is valid only with it. */
		{"source",
		 {"name", "conninfo", "tables", "slot", "plugin"},
		 {"shop", "\"dbname=shop\"", "[public.orders]", "s1", "pgoutput"}},
		{"target", {"conninfo"}, {"\"dbname=a\""}},
		{"staging", {"table"}, {"s.raw"}},
	};
	struct buf b = BUF_INIT;
	bool placed = false;

	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
		bool here = strcmp(base[i].name, section->key) == 0;

		buf_appendf(&b, "%s: {", base[i].name);
		for (size_t k = 0; k < 5 && base[i].keys[k]; k++) {
			bool mine = here && strcmp(base[i].keys[k], key) == 0;

			buf_appendf(&b, "%s%s: %s", k ? ", " : "", base[i].keys[k],
						mine ? value : base[i].values[k]);
			placed |= mine;
		}
		if (here && !placed)
			buf_appendf(&b, ", %s: %s", key, value);
		placed |= here;
		buf_append_str(&b, "}\n");
	}
	if (!placed) {
		/* Another section: its required keys, then key. */
		buf_appendf(&b, "%s: {", section->key);
		for (const struct field *f = section->table->fields; f->key; f++) {
			char va[64], vb[64];

			if ((f->flags & FIELD_REQUIRED) && strcmp(f->key, key) != 0 &&
				two_values(f, va, vb, sizeof(va)))
				buf_appendf(&b, "%s: %s, ", f->key, va);
		}
		buf_appendf(&b, "%s: %s}\n", key, value);
	}
	return b.data;
}

/* Two different valid values of a row, as YAML text; false: none. */
static bool
two_values(const struct field *f, char *a, char *b, size_t len)
{
	static const char *const unit[] = {[F_INT] = "", [F_SIZE] = "B",
									   [F_DURATION] = "ms"};

	/* A value with a syntax of its own. */
	if (strcmp(f->key, "message_key_columns") == 0) {
		snprintf(a, len, "\"s.t:a\"");
		snprintf(b, len, "\"s.t:b\"");
		return true;
	}
	switch (f->type) {
	case F_STRING:
	case F_TEXT:
		snprintf(a, len, "\"a\"");
		snprintf(b, len, "\"b\"");
		return true;
	case F_IDENT:
	case F_NAME:
		snprintf(a, len, "x_a");
		snprintf(b, len, "x_b");
		return true;
	case F_QNAME:
		snprintf(a, len, "s.x_a");
		snprintf(b, len, "s.x_b");
		return true;
	case F_STRINGS:
		snprintf(a, len, "[public.orders]");
		snprintf(b, len, "[public.users]");
		return true;
	case F_BOOL:
		snprintf(a, len, "false");
		snprintf(b, len, "true");
		return true;
	case F_INT:
	case F_SIZE:
	case F_DURATION:
		snprintf(a, len, "%lld%s", (long long) f->min, unit[f->type]);
		snprintf(b, len, "%lld%s", (long long) f->max, unit[f->type]);
		return true;
	case F_ENUM:
	case F_KIND:
		snprintf(a, len, "%s", f->enums[0].name);
		snprintf(b, len, "%s", f->enums[1].name);
		return true;
	default:
		return false;
	}
}

static struct wp_config *
load_ok(const char *yaml)
{
	struct config_errors errs;
	struct wp_config *cfg =
		config_load_string("t.yaml", yaml, strlen(yaml), &errs);

	if (cfg == NULL)
		fail_msg("rejected: %s\n%s", errs.msg[0], yaml);
	config_errors_free(&errs);
	return cfg;
}

/* Change key of section from one valid value to another: a reload must
 * refuse exactly that key if its row is fixed, and take it otherwise. */
static void
check_key_reload(const struct field *section, const struct field *f)
{
	char va[64], vb[64];
	char *ya, *yb, **keys;
	struct wp_config *a, *b;
	size_t n;

	if (!two_values(f, va, vb, sizeof(va))) {
		/* Only a reloadable row may go uncompared (F_CUSTOM). */
		if (!(f->flags & FIELD_RELOAD))
			fail_msg("%s.%s: a fixed key this test cannot change",
					 section->key, f->key);
		return;
	}
	ya = yaml_with(section, f->key, va);
	yb = yaml_with(section, f->key, vb);
	a = load_ok(ya);
	b = load_ok(yb);
	n = config_fixed_changes(a, b, &keys);
	if (f->flags & FIELD_RELOAD) {
		if (n != 0)
			fail_msg("%s.%s is reloadable, but a reload refuses %s",
					 section->key, f->key, keys[0]);
	} else {
		char want[128];

		snprintf(want, sizeof(want), "%s.%s", section->key, f->key);
		if (n != 1 || strcmp(keys[0], want) != 0)
			fail_msg("%s is fixed, but a reload refuses %zu key(s)%s%s", want,
					 n, n ? ": " : "", n ? keys[0] : "");
	}
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	config_free(a);
	config_free(b);
	free(ya);
	free(yb);
}

/*
 * Every key of every section in the configuration table: a change of a
 * fixed one is refused by name, a change of a reloadable one is taken.
 * The keys of list items (mappings, refresh) are all reloadable today.
 */
static void
test_fixed_keys_from_table(void **state)
{
	int fixed = 0;

	(void) state;
	for (const struct field *s = config_top.fields; s->key; s++) {
		if (s->type == F_LIST && !(s->flags & FIELD_RELOAD)) {
			/* A fixed list: any change of it (test_fixed_mirror). */
			fixed++;
			continue;
		}
		if (s->type == F_LIST) {
			for (const struct field *f = s->table->fields; f->key; f++)
				if (!(f->flags & FIELD_RELOAD))
					fail_msg("%s[].%s is fixed: add a case for list items",
							 s->key, f->key);
			continue;
		}
		assert_int_equal(s->type, F_SECTION);
		if (strcmp(s->key, "kafka") == 0 && !WALPIPE_HAVE_KAFKA)
			continue;
		for (const struct field *f = s->table->fields; f->key; f++) {
			check_key_reload(s, f);
			fixed += !(f->flags & FIELD_RELOAD);
		}
	}
	/* source name, conninfo, slot, plugin, publication, state_dir;
	 * target conninfo, schema; metrics listen; process scheduling. */
	assert_int_equal(fixed, 10);
}

/*
 * The schemas a pgoutput publication holds whole for the mirrors: each
 * from pattern's schema once, quoted names exact; a '*' in a schema part
 * asks for every schema.
 */
static void
test_mirror_schemas(void **state)
{
	static const char head[] =
		"source: { name: shop, conninfo: \"dbname=shop\" }\n"
		"target: { conninfo: \"dbname=analytics\" }\n";
	char y[512];
	struct wp_config *cfg;
	const char **s;
	size_t n;

	(void) state;
	snprintf(y, sizeof(y),
			 "%smirror: [{ from: [app.*, app.x, '\"Sales\".order_*'], to: m }, "
			 "{ from: app.y, to: m2 }]\n",
			 head);
	cfg = load_ok(y);
	assert_false(config_mirror_schemas(cfg->mirrors, cfg->nmirrors, &s, &n));
	assert_int_equal(n, 2);
	assert_string_equal(s[0], "app");
	assert_string_equal(s[1], "Sales");
	free(s);
	config_free(cfg);
	snprintf(y, sizeof(y), "%smirror: [{ from: [app.*, '*.audit'], to: m }]\n",
			 head);
	cfg = load_ok(y);
	assert_true(config_mirror_schemas(cfg->mirrors, cfg->nmirrors, &s, &n));
	assert_null(s);
	assert_int_equal(n, 0);
	config_free(cfg);
	assert_false(config_mirror_schemas(NULL, 0, &s, &n));
	assert_int_equal(n, 0);
}

/*
 * A reload takes any change of the mirrors, as of source.tables (the next
 * session streams and expands them anew); the same patterns written
 * otherwise load the same.
 */
static void
test_fixed_mirror(void **state)
{
	static const char *const variants[] = {
		"mirror: [{ from: public.*, to: m }]\n",
		"mirror: [{ from: [public.*, sales.*], to: m }]\n",
		"mirror: [{ from: public.*, exclude: public.tmp_*, to: m }]\n",
		"mirror: [{ from: public.*, to: m2 }]\n",
		"mirror: [{ from: public.*, to: m, soft_delete: gone_at }]\n",
		"mirror: [{ from: public.*, to: m, metadata: { l: $lsn } }]\n",
		"mirror: [{ from: public.*, to: m, metadata: { l: $xid } }]\n",
		"mirror: [{ from: public.*, to: m, kafka: false }]\n",
		"mirror: [{ from: public.*, to: m }, { from: s.*, to: m }]\n",
	};
	static const char head[] =
		"source: { name: shop, conninfo: \"dbname=shop\" }\n"
		"target: { conninfo: \"dbname=analytics\" }\n";
	char ya[512], yb[512];
	struct wp_config *a, *b;
	char **keys;
	size_t n;

	(void) state;
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++)
		for (size_t j = 0; j < sizeof(variants) / sizeof(variants[0]); j++) {
			snprintf(ya, sizeof(ya), "%s%s", head, variants[i]);
			snprintf(yb, sizeof(yb), "%s%s", head, variants[j]);
			a = load_ok(ya);
			b = load_ok(yb);
			n = config_fixed_changes(a, b, &keys);
			if (n != 0)
				fail_msg("mirror %zu -> %zu: %zu fixed key(s) refused", i, j,
						 n);
			for (size_t k = 0; k < n; k++)
				free(keys[k]);
			free(keys);
			config_free(a);
			config_free(b);
		}
	snprintf(ya, sizeof(ya), "%s%s", head,
			 "mirror: [{ from: Public.*, to: m }]\n");
	snprintf(yb, sizeof(yb), "%s%s", head,
			 "mirror: [{ from: ['\"public\".*'], to: '\"m\"' }]\n");
	a = load_ok(ya);
	b = load_ok(yb);
	assert_string_equal(a->mirrors[0].from[0], "public.*");
	assert_string_equal(b->mirrors[0].from[0], a->mirrors[0].from[0]);
	assert_string_equal(b->mirrors[0].to, a->mirrors[0].to);
	config_free(a);
	config_free(b);
}

/* Mappings and refreshes may come, go and change on a reload. */
static void
test_fixed_lists(void **state)
{
	static const char a[] =
		"source: { name: shop, conninfo: \"dbname=shop\",\n"
		"          tables: [public.orders, public.users] }\n"
		"target: { conninfo: \"dbname=analytics\" }\n"
		"mappings:\n"
		"  - { from: public.orders, to: a.f, key: [id], columns: { id: id } }\n";
	static const char b[] =
		"source: { name: shop, conninfo: \"dbname=shop\",\n"
		"          tables: [public.orders, public.users] }\n"
		"target: { conninfo: \"dbname=analytics\" }\n"
		"mappings:\n"
		"  - { from: public.users, to: a.u, mode: append, kafka: false,\n"
		"      columns: { id: id, at: $commit_time }, where: \"id > 0\",\n"
		"      on_truncate: fail }\n"
		"  - { from: public.orders, to: a.f, key: [id], columns: { id: id } }\n"
		"refresh:\n"
		"  - { view: a.v, every: 1m, concurrently: true }\n";
	struct wp_config *ca = load_ok(a), *cb = load_ok(b);
	char **keys;

	(void) state;
	assert_int_equal(config_fixed_changes(ca, cb, &keys), 0);
	free(keys);
	assert_int_equal(config_fixed_changes(cb, ca, &keys), 0);
	free(keys);
	config_free(ca);
	config_free(cb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_corpus),
		cmocka_unit_test(test_kafka_build),
		cmocka_unit_test(test_good_corpus),
		cmocka_unit_test(test_values_and_defaults),
		cmocka_unit_test(test_unreadable),
		cmocka_unit_test(test_fixed_changes),
		cmocka_unit_test(test_fixed_keys_from_table),
		cmocka_unit_test(test_fixed_lists),
		cmocka_unit_test(test_fixed_mirror),
		cmocka_unit_test(test_mirror_schemas),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
