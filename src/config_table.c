/* config_table.c: every configuration key, one row each, and readers of the odd ones. */
#include "config_int.h"

#include "walpipe/buf.h"
#include "walpipe/mem.h"
#include "walpipe/version.h"

#include <stdlib.h>
#include <string.h>

/*
 * How to read a row: {key, type, flags, default, min, max, enum values,
 * what (a name's kind), where it goes (off, off2), table (a section's or
 * a list item's), load (a reader of its own)}.  FIELD_RELOAD marks what
 * a running walpipe takes on SIGHUP; every other key makes
 * config_fixed_changes refuse the reload.  Keys are listed in the order
 * "valid keys" messages name them.
 */

/* ------------------------------------------------------------------ */
/* Enums.                                                               */

static const struct enum_value partition_units[] = {
	{"day", 0}, {"week", 0}, {"month", 0}, {NULL, 0}};
static const struct enum_value snapshot_modes[] = {
	{"initial", 0}, {"never", 0}, {NULL, 0}};
static const struct enum_value snapshot_ops[] = {{"r", 0}, {"I", 0}, {NULL, 0}};
static const struct enum_value log_formats[] = {
	{"json", 0}, {"text", 0}, {NULL, 0}};
static const struct enum_value log_levels[] = {
	{"debug", 0}, {"info", 0}, {"notice", 0}, {"warning", 0}, {"error", 0},
	{NULL, 0}};
static const struct enum_value plugins[] = {
	{"wal2json", CONFIG_PLUGIN_WAL2JSON},
	{"pgoutput", CONFIG_PLUGIN_PGOUTPUT},
	{NULL, 0}};
static const struct enum_value schedulings[] = {
	{"batch", CONFIG_SCHED_BATCH},
	{"inherit", CONFIG_SCHED_INHERIT},
	{NULL, 0}};
static const struct enum_value kafka_formats[] = {
	{"debezium", 0}, {"wal2json", 0}, {NULL, 0}};
static const struct enum_value kafka_decimal_modes[] = {
	{"precise", 0}, {"string", 0}, {"double", 0}, {NULL, 0}};
static const struct enum_value kafka_time_modes[] = {
	{"adaptive", 0}, {"connect", 0}, {NULL, 0}};
static const struct enum_value kafka_interval_modes[] = {
	{"numeric", 0}, {"string", 0}, {NULL, 0}};
static const struct enum_value kafka_hstore_modes[] = {
	{"json", 0}, {"map", 0}, {NULL, 0}};
static const struct enum_value mapping_modes[] = {
	{"upsert", MAP_MODE_UPSERT},
	{"append", MAP_MODE_APPEND},
	{"keyless", MAP_MODE_KEYLESS},
	{"none", MAP_MODE_NONE},
	{NULL, 0}};
/* The scalar forms; {soft_delete: COLUMN} is the third (load_on_delete). */
static const struct enum_value delete_actions[] = {
	{"delete", MAP_DELETE_DELETE}, {"ignore", MAP_DELETE_IGNORE}, {NULL, 0}};
static const struct enum_value truncate_actions[] = {
	{"truncate", MAP_TRUNCATE_TRUNCATE},
	{"ignore", MAP_TRUNCATE_IGNORE},
	{"fail", MAP_TRUNCATE_FAIL},
	{NULL, 0}};
static const struct enum_value metas[] = {
	{"$lsn", MAP_META_LSN},
	{"$xid", MAP_META_XID},
	{"$commit_time", MAP_META_COMMIT_TIME},
	{"$op", MAP_META_OP},
	{"$source", MAP_META_SOURCE},
	{NULL, 0}};

/* ------------------------------------------------------------------ */
/* Readers of values no type describes.                                 */

/* source.tables: schema.table names, kept in ident_qualified's text
 * form: exact, and read back by ident_parse, to_regclass and
 * parse_ident alike. */
static void
load_source_tables(struct loader *L, const struct field *f,
				   const struct ynode *t, void *obj)
{
	struct wp_config *cfg = obj;

	(void) f;
	if (t->kind != YNODE_SEQ || t->nkids == 0) {
		config_error(L, t->line, t->col,
					 "expected a non-empty list of schema.table names");
		return;
	}
	for (size_t i = 0; i < t->nkids; i++) {
		const struct ynode *it = t->kids[i];
		char *s, *tb, *q;
		size_t o = config_path_push(L, "[%zu]", i);

		if (it->kind != YNODE_SCALAR)
			config_error(L, it->line, it->col,
						 "invalid table name %s: expected schema.table",
						 ynode_kind_name(it));
		else if (config_load_qname(L, it, "table name", &s, &tb)) {
			q = ident_qualified(s, tb);
			free(s);
			free(tb);
			for (size_t j = 0; j < cfg->source.ntables; j++)
				if (strcmp(cfg->source.tables[j], q) == 0)
					config_error(L, it->line, it->col,
								 "table \"%s\" listed twice", q);
			cfg->source.tables =
				wp_realloc(cfg->source.tables,
						   (cfg->source.ntables + 1) * sizeof(char *));
			cfg->source.tables[cfg->source.ntables++] = q;
		}
		config_path_pop(L, o);
	}
}

/* kafka.properties: librdkafka's own keys, passed through as text. */
static void
load_kafka_properties(struct loader *L, const struct field *f,
					  const struct ynode *p, void *obj)
{
	struct wp_config *cfg = obj;

	(void) f;
	if (p->kind != YNODE_MAP) {
		config_error(L, p->line, p->col,
					 "expected a mapping of librdkafka property: value");
		return;
	}
	cfg->kafka.properties =
		wp_calloc(p->nkids / 2 + 1, sizeof(*cfg->kafka.properties));
	for (size_t i = 0; i + 1 < p->nkids; i += 2) {
		const struct ynode *k = p->kids[i], *v = p->kids[i + 1];
		struct config_kv *kv;

		if (v->kind != YNODE_SCALAR) {
			config_error(L, v->line, v->col,
						 "property \"%s\" must be a scalar", k->value);
			continue;
		}
		kv = &cfg->kafka.properties[cfg->kafka.nproperties++];
		kv->key = wp_strdup(k->value);
		kv->value = wp_strdup(v->value);
		kv->line = v->line;
		kv->col = v->col;
	}
}

#if !WALPIPE_HAVE_KAFKA
static void
load_kafka_unsupported(struct loader *L, const struct field *f,
					   const struct ynode *n, void *obj)
{
	(void) f;
	(void) obj;
	config_error(L, n->line, n->col,
				 "this walpipe was built without Kafka support "
				 "(-DWALPIPE_KAFKA=OFF); remove the kafka section or use a "
				 "build with librdkafka");
}
#endif

/* mappings[].key: target column names. */
static void
load_mapping_key(struct loader *L, const struct field *f,
				 const struct ynode *v, void *obj)
{
	struct config_mapping *m = obj;

	(void) f;
	if (v->kind != YNODE_SEQ || v->nkids == 0) {
		config_error(L, v->line, v->col,
					 "expected a non-empty list of target columns");
		return;
	}
	for (size_t i = 0; i < v->nkids; i++) {
		const struct ynode *it = v->kids[i];
		char *kc;

		if (it->kind != YNODE_SCALAR) {
			config_error(L, it->line, it->col, "invalid key column %s",
						 ynode_kind_name(it));
			continue;
		}
		if ((kc = config_load_name1(L, it, "key column")) == NULL)
			continue;
		m->key = wp_realloc(m->key, (m->nkey + 1) * sizeof(char *));
		m->key[m->nkey++] = kc;
	}
}

/* mappings[].on_delete: delete, ignore or {soft_delete: COLUMN}. */
static void
load_on_delete(struct loader *L, const struct field *f,
			   const struct ynode *v, void *obj)
{
	struct config_mapping *m = obj;
	const struct ynode *sd = ynode_get(v, "soft_delete");
	int action;

	(void) f;
	if (v->kind == YNODE_MAP && v->nkids == 2 && sd &&
		sd->kind == YNODE_SCALAR && !ynode_is_null(sd)) {
		size_t o = config_path_push(L, ".soft_delete");

		m->rule.on_delete = MAP_DELETE_SOFT;
		m->soft_delete_column = config_load_name1(L, sd, "column name");
		config_path_pop(L, o);
	} else if (v->kind == YNODE_SCALAR &&
			   config_enum_has(delete_actions, v->value, &action)) {
		m->rule.on_delete = action;
	} else {
		config_error(L, v->line, v->col,
					 "invalid value%s%s%s: expected delete, ignore or "
					 "{soft_delete: COLUMN}",
					 v->kind == YNODE_SCALAR ? " \"" : "",
					 v->kind == YNODE_SCALAR ? v->value : "",
					 v->kind == YNODE_SCALAR ? "\"" : "");
	}
}

/* "col" or "col.key.key" into a column or a path (ident_parse_path). */
static bool
set_source_ref(struct loader *L, struct map_column *c, const struct ynode *v)
{
	char *column, **keys, err[200];
	size_t n;
	bool folded;

	if (!ident_parse_path(v->value, &column, &keys, &n, &folded, err,
						  sizeof(err))) {
		config_error(L, v->line, v->col,
					 "invalid source column \"%s\": %s; expected a column "
					 "name or a \"quoted name\", a path such as "
					 "payload.user_id, or one of $lsn, $xid, $commit_time, "
					 "$op, $source",
					 v->value, err);
		return false;
	}
	if (!v->plain && folded) {
		struct buf fix = BUF_INIT, fold = BUF_INIT;

		ident_append(&fold, column);
		for (size_t i = 0; i < n; i++)
			buf_appendf(&fold, ".%s", keys[i]);
		ident_fold_hint(&fix, v->value);
		config_error(L, v->line, v->col,
					 "name \"%s\" would fold to \"%s\": YAML quotes are not "
					 "SQL quotes; write %s for the exact name",
					 v->value, fold.data, fix.data);
		buf_free(&fix);
		buf_free(&fold);
		free(column);
		for (size_t i = 0; i < n; i++)
			free(keys[i]);
		free(keys);
		return false;
	}
	c->column = column;
	c->src = n ? MAP_SRC_PATH : MAP_SRC_COLUMN;
	c->path = (const char *const *) keys;
	c->npath = n;
	return true;
}

/* A column's source written as a scalar: $meta, a column or a path. */
static void
column_from_scalar(struct loader *L, struct map_column *c,
				   const struct ynode *v)
{
	int meta;

	if (v->value[0] != '$') {
		set_source_ref(L, c, v);
		return;
	}
	if (config_enum_has(metas, v->value, &meta))
		c->meta = meta;
	else
		config_error(L, v->line, v->col,
					 "unknown metadata \"%s\": expected $lsn, $xid, "
					 "$commit_time, $op or $source",
					 v->value);
	c->src = MAP_SRC_META;
}

/* A column's source written as {from, type} or {sql}. */
static void
column_from_spec(struct loader *L, struct map_column *c,
				 const struct ynode *v)
{
	static const char *const keys[] = {"from", "type", "sql"};
	const struct ynode *from = ynode_get(v, "from");
	const struct ynode *type = ynode_get(v, "type");
	const struct ynode *sql = ynode_get(v, "sql");
	int meta;

	for (size_t i = 0; i + 1 < v->nkids; i += 2) {
		const struct ynode *kk = v->kids[i], *vv = v->kids[i + 1];
		bool known = false;

		for (size_t j = 0; j < 3; j++)
			known |= strcmp(kk->value, keys[j]) == 0;
		if (!known)
			config_unknown_key(L, kk, keys, 3);
		else if (vv->kind != YNODE_SCALAR || ynode_is_null(vv) ||
				 !vv->value[0])
			config_error(L, vv->line, vv->col,
						 "\"%s\" must be a non-empty string", kk->value);
	}
	if ((from != NULL) == (sql != NULL)) {
		config_error(L, v->line, v->col,
					 "give exactly one of \"from\" (a source column) and "
					 "\"sql\" (an expression)");
	} else if (from && from->kind == YNODE_SCALAR && !ynode_is_null(from)) {
		if (from->value[0] == '$') {
			if (config_enum_has(metas, from->value, &meta))
				c->meta = meta;
			else
				config_error(L, from->line, from->col,
							 "unknown metadata \"%s\"", from->value);
			c->src = MAP_SRC_META;
		} else {
			set_source_ref(L, c, from);
		}
	} else if (sql && sql->kind == YNODE_SCALAR && !ynode_is_null(sql)) {
		c->src = MAP_SRC_SQL;
		c->sql = wp_strdup(sql->value);
	}
	if (type && type->kind == YNODE_SCALAR && !ynode_is_null(type))
		c->type = wp_strdup(type->value);
	if (type && sql)
		config_error(L, type->line, type->col,
					 "\"type\" goes with \"from\"; cast inside the \"sql\" "
					 "expression instead");
}

/* One "target: source" of mappings[].columns. */
static void
load_column(struct loader *L, struct config_mapping *m,
			const struct ynode *k, const struct ynode *v)
{
	struct map_column *c;
	size_t old = config_path_push(L, ".%s", k->value);
	char *target = config_load_name1(L, k, "target column name");

	if (target == NULL) {
		config_path_pop(L, old);
		return;
	}
	for (size_t i = 0; i < m->ncols; i++)
		if (strcmp(m->cols[i].target, target) == 0)
			config_error(L, k->line, k->col,
						 "duplicate target column \"%s\"", k->value);
	m->cols = wp_realloc(m->cols, (m->ncols + 1) * sizeof(*m->cols));
	c = &m->cols[m->ncols++];
	memset(c, 0, sizeof(*c));
	c->target = target;
	if (v->kind == YNODE_SCALAR && !ynode_is_null(v))
		column_from_scalar(L, c, v);
	else if (v->kind == YNODE_MAP)
		column_from_spec(L, c, v);
	else
		config_error(L, v->line, v->col,
					 "expected a source column or a mapping with from/type "
					 "or sql, found %s",
					 ynode_is_null(v) ? "null" : ynode_kind_name(v));
	config_path_pop(L, old);
}

/* mappings[].columns: target column: source, in file order. */
static void
load_columns(struct loader *L, const struct field *f, const struct ynode *v,
			 void *obj)
{
	(void) f;
	if (v->kind != YNODE_MAP || v->nkids == 0) {
		config_error(L, v->line, v->col,
					 "expected a mapping of target column: source");
		return;
	}
	for (size_t i = 0; i + 1 < v->nkids; i += 2)
		load_column(L, obj, v->kids[i], v->kids[i + 1]);
}

/* refresh[].view: a wrong kind is reported on the item. */
static void
load_refresh_view(struct loader *L, const struct field *f,
				  const struct ynode *v, void *obj)
{
	struct config_refresh *r = obj;

	(void) f;
	if (v->kind != YNODE_SCALAR)
		config_error_above(L, v->line, v->col,
						   "invalid view name: expected schema.view");
	else
		config_load_qname(L, v, "view name", &r->view_schema,
						  &r->view_table);
}

/* refresh[].every: at least a second, one message for any fault. */
static void
load_refresh_every(struct loader *L, const struct field *f,
				   const struct ynode *v, void *obj)
{
	struct config_refresh *r = obj;

	(void) f;
	if (v->kind != YNODE_SCALAR ||
		!config_parse_duration(v->value, &r->every_ms) || r->every_ms < 1000)
		config_error(L, v->line, v->col,
					 "invalid duration \"%s\": expected at least 1s, with "
					 "unit ms, s, m, h or d",
					 v->kind == YNODE_SCALAR ? v->value : "");
}

/* refresh[].concurrently: reported on the item, without the value. */
static void
load_refresh_concurrently(struct loader *L, const struct field *f,
						  const struct ynode *v, void *obj)
{
	struct config_refresh *r = obj;

	(void) f;
	if (v->kind != YNODE_SCALAR ||
		!config_parse_bool(v->value, &r->concurrently))
		config_error_above(L, v->line, v->col,
						   "invalid boolean: expected true or false");
}

/* mirror[].from and mirror[].exclude: one pattern or a list of them
 * (mirror.h), kept parsed and as text. */
static void
add_pattern(struct loader *L, const struct ynode *it, char ***texts,
			size_t *n, struct mirror_pattern **parsed)
{
	struct mirror_pattern p;
	struct buf text = BUF_INIT;
	char err[300];
	bool upper = false, quoted = false;

	if (it->kind != YNODE_SCALAR || ynode_is_null(it) || !it->value[0]) {
		config_error(L, it->line, it->col,
					 "invalid table pattern%s%s: expected schema.table, "
					 "with * for any run of characters",
					 it->kind == YNODE_SCALAR ? "" : " ",
					 it->kind == YNODE_SCALAR ? "" : ynode_kind_name(it));
		return;
	}
	for (const char *c = it->value; *c; c++) {
		if (*c == '"')
			quoted = !quoted;
		upper |= !quoted && *c >= 'A' && *c <= 'Z';
	}
	if (!it->plain && upper) {
		config_error(L, it->line, it->col,
					 "pattern \"%s\" would fold to lower case: YAML quotes "
					 "are not SQL quotes; quote each part that holds upper "
					 "case as SQL does, as in public.\"User*\"",
					 it->value);
		return;
	}
	if (!mirror_pattern_parse(it->value, &p, err, sizeof(err))) {
		config_error(L, it->line, it->col, "%s", err);
		return;
	}
	mirror_pattern_append(&text, &p);
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*texts)[i], text.data) == 0)
			config_error(L, it->line, it->col,
						 "pattern \"%s\" listed twice", text.data);
	*texts = wp_realloc(*texts, (*n + 1) * sizeof(char *));
	*parsed = wp_realloc(*parsed, (*n + 1) * sizeof(**parsed));
	(*texts)[*n] = text.data;
	(*parsed)[(*n)++] = p;
}

static void
load_mirror_patterns(struct loader *L, const struct field *f,
					 const struct ynode *v, void *obj)
{
	struct config_mirror *m = obj;
	bool from = strcmp(f->key, "from") == 0;
	char ***texts = from ? &m->from : &m->exclude;
	size_t *n = from ? &m->nfrom : &m->nexclude;
	struct mirror_pattern **parsed = from ? &m->from_p : &m->exclude_p;

	if (v->kind != YNODE_SEQ) {
		add_pattern(L, v, texts, n, parsed);
		return;
	}
	if (v->nkids == 0)
		config_error(L, v->line, v->col,
					 "expected a table pattern or a non-empty list of them");
	for (size_t i = 0; i < v->nkids; i++) {
		size_t o = config_path_push(L, "[%zu]", i);

		add_pattern(L, v->kids[i], texts, n, parsed);
		config_path_pop(L, o);
	}
}

/* mirror[].metadata: target column: $lsn | $xid | $commit_time | $op |
 * $source. */
static void
load_mirror_metadata(struct loader *L, const struct field *f,
					 const struct ynode *v, void *obj)
{
	struct config_mirror *m = obj;

	(void) f;
	if (v->kind != YNODE_MAP || v->nkids == 0) {
		config_error(L, v->line, v->col,
					 "expected a mapping of target column: $lsn, $xid, "
					 "$commit_time, $op or $source");
		return;
	}
	m->meta = wp_calloc(v->nkids / 2, sizeof(*m->meta));
	m->metanames = wp_calloc(v->nkids / 2, sizeof(char *));
	m->metadata = wp_calloc(v->nkids / 2, sizeof(char *));
	for (size_t i = 0; i + 1 < v->nkids; i += 2) {
		const struct ynode *k = v->kids[i], *val = v->kids[i + 1];
		size_t o = config_path_push(L, ".%s", k->value);
		char *col = config_load_name1(L, k, "column name");
		struct buf text = BUF_INIT;
		int meta;

		if (col == NULL) {
			config_path_pop(L, o);
			continue;
		}
		if (val->kind != YNODE_SCALAR ||
			!config_enum_has(metas, val->value, &meta)) {
			config_error(L, val->line, val->col,
						 "unknown metadata%s%s%s: expected $lsn, $xid, "
						 "$commit_time, $op or $source",
						 val->kind == YNODE_SCALAR ? " \"" : "",
						 val->kind == YNODE_SCALAR ? val->value : "",
						 val->kind == YNODE_SCALAR ? "\"" : "");
			free(col);
			config_path_pop(L, o);
			continue;
		}
		for (size_t j = 0; j < m->nmetadata; j++)
			if (strcmp(m->metanames[j], col) == 0)
				config_error(L, k->line, k->col,
							 "duplicate target column \"%s\"", k->value);
		ident_append(&text, col);
		buf_appendf(&text, ": %s", val->value);
		m->metanames[m->nmetadata] = col;
		m->meta[m->nmetadata].target = col;
		m->meta[m->nmetadata].meta = meta;
		m->metadata[m->nmetadata++] = text.data;
		config_path_pop(L, o);
	}
}

/* A mirror entry says where it starts, for later messages. */
static void
init_mirror(void *obj, const struct ynode *n)
{
	((struct config_mirror *) obj)->line = n->line;
}

/* A mapping says where it starts, for later messages. */
static void
init_mapping(void *obj, const struct ynode *n)
{
	((struct config_mapping *) obj)->line = n->line;
}

/* ------------------------------------------------------------------ */
/* The tables.                                                          */

#define OFF(f) offsetof(struct wp_config, f)
#define MOFF(f) offsetof(struct config_mapping, f)
#define ROFF(f) offsetof(struct config_refresh, f)
#define MIOFF(f) offsetof(struct config_mirror, f)
#define RELOAD FIELD_RELOAD
#define REQUIRED FIELD_REQUIRED

static const struct field source_fields[] = {
	{.key = "name", .type = F_IDENT, .flags = REQUIRED,
	 .off = OFF(source.name)},
	{.key = "conninfo", .type = F_STRING, .flags = REQUIRED,
	 .off = OFF(source.conninfo)},
	{.key = "slot", .type = F_IDENT, .off = OFF(source.slot)},
	{.key = "create_slot", .type = F_BOOL, .flags = RELOAD, .def = "false",
	 .off = OFF(source.create_slot)},
	/* The slot keeps its plugin: another needs another slot. */
	{.key = "plugin", .type = F_KIND, .def = "wal2json", .enums = plugins,
	 .off = OFF(source.plugin)},
	/* pgoutput only, defaults to walpipe_NAME: config_check_top. */
	{.key = "publication", .type = F_IDENT, .off = OFF(source.publication)},
	{.key = "status_interval", .type = F_DURATION, .flags = RELOAD,
	 .def = "10s", .min = 100, .max = 3600000,
	 .off = OFF(source.status_interval_ms)},
	{.key = "heartbeat", .type = F_DURATION, .flags = RELOAD, .min = 1000,
	 .max = 3600000, .off = OFF(source.heartbeat_ms)},
	{.key = "state_dir", .type = F_STRING, .def = "/var/lib/walpipe",
	 .off = OFF(source.state_dir)},
	/* Required unless there is a mirror section: config_check_top.  A
	 * reload reopens the stream with the new list, between transactions
	 * (run.c: session_reload_due). */
	{.key = "tables", .type = F_STRINGS, .flags = RELOAD,
	 .off = OFF(source.tables), .off2 = OFF(source.ntables),
	 .load = load_source_tables},
	{.key = NULL},
};

static const struct field target_fields[] = {
	{.key = "conninfo", .type = F_STRING, .flags = REQUIRED,
	 .off = OFF(target.conninfo)},
	{.key = "schema", .type = F_NAME, .def = "walpipe", .what = "name",
	 .off = OFF(target.schema)},
	{.key = "statement_timeout", .type = F_DURATION, .flags = RELOAD,
	 .def = "5m", .min = 0, .max = 86400000,
	 .off = OFF(target.statement_timeout_ms)},
	{.key = NULL},
};

static const struct field batch_fields[] = {
	{.key = "max_changes", .type = F_INT, .flags = RELOAD, .def = "10000",
	 .min = 1, .max = 10000000, .off = OFF(batch.max_changes)},
	{.key = "max_bytes", .type = F_SIZE, .flags = RELOAD, .def = "16MB",
	 .min = 65536, .max = 1073741824, .off = OFF(batch.max_bytes)},
	{.key = "max_delay", .type = F_DURATION, .flags = RELOAD, .def = "200ms",
	 .min = 1, .max = 3600000, .off = OFF(batch.max_delay_ms)},
	{.key = NULL},
};

static const struct field staging_fields[] = {
	{.key = "table", .type = F_QNAME, .flags = REQUIRED | RELOAD,
	 .what = "table name", .off = OFF(staging.schema),
	 .off2 = OFF(staging.table)},
	{.key = "partition", .type = F_ENUM, .flags = RELOAD, .def = "month",
	 .enums = partition_units, .off = OFF(staging.partition)},
	{.key = "premake", .type = F_INT, .flags = RELOAD, .def = "2", .min = 0,
	 .max = 36, .off = OFF(staging.premake)},
	{.key = "retention", .type = F_DURATION, .flags = RELOAD,
	 .min = 86400000, .max = INT64_MAX, .off = OFF(staging.retention_ms)},
	{.key = "messages", .type = F_BOOL, .flags = RELOAD, .def = "false",
	 .off = OFF(staging.messages)},
	{.key = "unmapped", .type = F_BOOL, .flags = RELOAD, .def = "true",
	 .off = OFF(staging.unmapped)},
	{.key = NULL},
};

static const struct field snapshot_fields[] = {
	{.key = "mode", .type = F_ENUM, .flags = RELOAD, .def = "initial",
	 .enums = snapshot_modes, .off = OFF(snapshot.mode)},
	{.key = "workers", .type = F_INT, .flags = RELOAD, .def = "2", .min = 1,
	 .max = 16, .off = OFF(snapshot.workers)},
	{.key = "op", .type = F_ENUM, .flags = RELOAD, .def = "r",
	 .enums = snapshot_ops, .off = OFF(snapshot.op)},
	{.key = NULL},
};

static const struct field backfill_fields[] = {
	{.key = "auto", .type = F_BOOL, .flags = RELOAD, .def = "true",
	 .off = OFF(backfill.automatic)},
	{.key = "chunk_size", .type = F_INT, .flags = RELOAD, .def = "2000",
	 .min = 1, .max = 1000000, .off = OFF(backfill.chunk_size)},
	{.key = "max_rate", .type = F_INT, .flags = RELOAD, .def = "0", .min = 0,
	 .max = INT64_MAX, .off = OFF(backfill.max_rate)},
	{.key = NULL},
};

static const struct field kafka_fields[] = {
	{.key = "brokers", .type = F_STRING, .flags = REQUIRED | RELOAD,
	 .off = OFF(kafka.brokers)},
	{.key = "topic", .type = F_STRING, .flags = RELOAD,
	 .def = "{source}.{schema}.{table}", .off = OFF(kafka.topic)},
	{.key = "format", .type = F_ENUM, .flags = RELOAD, .def = "debezium",
	 .enums = kafka_formats, .off = OFF(kafka.format)},
	{.key = "tombstones", .type = F_BOOL, .flags = RELOAD, .def = "true",
	 .off = OFF(kafka.tombstones)},
	{.key = "schemas", .type = F_BOOL, .flags = RELOAD, .def = "false",
	 .off = OFF(kafka.schemas)},
	{.key = "decimal_handling_mode", .type = F_ENUM, .flags = RELOAD,
	 .def = "precise", .enums = kafka_decimal_modes,
	 .off = OFF(kafka.decimal_handling_mode)},
	{.key = "time_precision_mode", .type = F_ENUM, .flags = RELOAD,
	 .def = "adaptive", .enums = kafka_time_modes,
	 .off = OFF(kafka.time_precision_mode)},
	{.key = "interval_handling_mode", .type = F_ENUM, .flags = RELOAD,
	 .def = "numeric", .enums = kafka_interval_modes,
	 .off = OFF(kafka.interval_handling_mode)},
	{.key = "hstore_handling_mode", .type = F_ENUM, .flags = RELOAD,
	 .def = "json", .enums = kafka_hstore_modes,
	 .off = OFF(kafka.hstore_handling_mode)},
	{.key = "column_include_list", .type = F_STRING, .flags = RELOAD,
	 .off = OFF(kafka.column_include_list)},
	{.key = "column_exclude_list", .type = F_STRING, .flags = RELOAD,
	 .off = OFF(kafka.column_exclude_list)},
	{.key = "message_key_columns", .type = F_STRING, .flags = RELOAD,
	 .off = OFF(kafka.message_key_columns)},
	{.key = "unavailable_value_placeholder", .type = F_STRING,
	 .flags = RELOAD, .def = "__debezium_unavailable_value",
	 .off = OFF(kafka.unavailable_value_placeholder)},
	{.key = "messages_topic", .type = F_STRING, .flags = RELOAD,
	 .def = "{source}.message", .off = OFF(kafka.messages_topic)},
	{.key = "transaction_metadata", .type = F_BOOL, .flags = RELOAD,
	 .def = "false", .off = OFF(kafka.transaction_metadata)},
	{.key = "transaction_topic", .type = F_STRING, .flags = RELOAD,
	 .def = "{source}.transaction", .off = OFF(kafka.transaction_topic)},
	{.key = "transactions", .type = F_BOOL, .flags = RELOAD, .def = "false",
	 .off = OFF(kafka.transactions)},
	{.key = "dedupe_on_restart", .type = F_BOOL, .flags = RELOAD,
	 .def = "true", .off = OFF(kafka.dedupe_on_restart)},
	{.key = "properties", .type = F_CUSTOM, .flags = RELOAD,
	 .load = load_kafka_properties},
	{.key = NULL},
};

static const struct field metrics_fields[] = {
	{.key = "listen", .type = F_STRING, .def = "127.0.0.1:9187",
	 .off = OFF(metrics.listen)},
	{.key = NULL},
};

static const struct field log_fields[] = {
	{.key = "format", .type = F_ENUM, .flags = RELOAD, .def = "text",
	 .enums = log_formats, .off = OFF(log.format)},
	{.key = "level", .type = F_ENUM, .flags = RELOAD, .def = "info",
	 .enums = log_levels, .off = OFF(log.level)},
	{.key = NULL},
};

/* Set once at start, before any thread: a restart takes a change. */
static const struct field process_fields[] = {
	{.key = "scheduling", .type = F_KIND, .def = "batch",
	 .enums = schedulings, .off = OFF(process.scheduling)},
	{.key = NULL},
};

/* A running walpipe takes any change of its mappings and refreshes. */
static const struct field mapping_fields[] = {
	{.key = "from", .type = F_QNAME, .flags = REQUIRED | RELOAD,
	 .what = "table name", .off = MOFF(from_schema),
	 .off2 = MOFF(from_table)},
	/* Required unless mode none: config_check_mapping. */
	{.key = "to", .type = F_QNAME, .flags = RELOAD, .what = "table name",
	 .off = MOFF(to_schema), .off2 = MOFF(to_table)},
	{.key = "mode", .type = F_KIND, .flags = RELOAD, .def = "upsert",
	 .enums = mapping_modes, .off = MOFF(rule.mode)},
	{.key = "key", .type = F_STRINGS, .flags = RELOAD, .off = MOFF(key),
	 .off2 = MOFF(nkey), .load = load_mapping_key},
	/* Required unless mode none: config_check_mapping. */
	{.key = "columns", .type = F_CUSTOM, .flags = RELOAD,
	 .load = load_columns},
	{.key = "where", .type = F_TEXT, .flags = RELOAD, .off = MOFF(where)},
	{.key = "on_delete", .type = F_KIND, .flags = RELOAD, .def = "delete",
	 .enums = delete_actions, .off = MOFF(rule.on_delete),
	 .load = load_on_delete},
	{.key = "on_truncate", .type = F_KIND, .flags = RELOAD,
	 .def = "truncate", .enums = truncate_actions,
	 .off = MOFF(rule.on_truncate)},
	{.key = "kafka", .type = F_BOOL, .flags = RELOAD, .def = "true",
	 .off = MOFF(kafka)},
	{.key = NULL},
};

static const struct field refresh_fields[] = {
	{.key = "view", .type = F_QNAME, .flags = REQUIRED | RELOAD,
	 .what = "view name", .off = ROFF(view_schema),
	 .off2 = ROFF(view_table), .load = load_refresh_view},
	{.key = "every", .type = F_DURATION, .flags = REQUIRED | RELOAD,
	 .min = 1000, .max = INT64_MAX, .off = ROFF(every_ms),
	 .load = load_refresh_every},
	{.key = "concurrently", .type = F_BOOL, .flags = RELOAD,
	 .off = ROFF(concurrently), .load = load_refresh_concurrently},
	{.key = NULL},
};

/* A reload takes any change of the mirrors, as of source.tables: the
 * next session expands them again (new targets are created and copied). */
static const struct field mirror_fields[] = {
	{.key = "from", .type = F_STRINGS, .flags = REQUIRED | RELOAD,
	 .off = MIOFF(from), .off2 = MIOFF(nfrom), .load = load_mirror_patterns},
	{.key = "exclude", .type = F_STRINGS, .flags = RELOAD,
	 .off = MIOFF(exclude), .off2 = MIOFF(nexclude),
	 .load = load_mirror_patterns},
	{.key = "to", .type = F_NAME, .flags = REQUIRED | RELOAD,
	 .what = "schema name", .off = MIOFF(to)},
	{.key = "soft_delete", .type = F_NAME, .flags = RELOAD,
	 .what = "column name", .off = MIOFF(soft_delete_column)},
	{.key = "metadata", .type = F_STRINGS, .flags = RELOAD,
	 .off = MIOFF(metadata), .off2 = MIOFF(nmetadata),
	 .load = load_mirror_metadata},
	{.key = "kafka", .type = F_BOOL, .flags = RELOAD, .def = "true",
	 .off = MIOFF(kafka)},
	{.key = NULL},
};

#define SECTION(f, chk)                                                        \
	{                                                                          \
		.fields = f, .style = TABLE_SECTION, .dups = DUPS_KNOWN, .check = chk \
	}

static const struct table source_table = SECTION(source_fields, NULL);
static const struct table target_table = SECTION(target_fields, NULL);
static const struct table batch_table = SECTION(batch_fields, NULL);
static const struct table staging_table =
	SECTION(staging_fields, config_check_staging);
static const struct table kafka_table =
	SECTION(kafka_fields, config_check_kafka);
static const struct table metrics_table = SECTION(metrics_fields, NULL);
static const struct table backfill_table = SECTION(backfill_fields, NULL);
static const struct table log_table = SECTION(log_fields, NULL);
static const struct table process_table = SECTION(process_fields, NULL);
/* "snapshot: never" is short for "snapshot: { mode: never }". */
static const struct table snapshot_table = {
	.fields = snapshot_fields,
	.style = TABLE_SECTION,
	.dups = DUPS_KNOWN,
	.scalar_key = "mode",
};
/* A repeated key in a mapping or a refresh: the first counts. */
static const struct table mapping_table = {
	.fields = mapping_fields,
	.size = sizeof(struct config_mapping),
	.style = TABLE_ITEM,
	.dups = DUPS_FIRST,
	.init = init_mapping,
	.check = config_check_mapping,
};
static const struct table mirror_table = {
	.fields = mirror_fields,
	.size = sizeof(struct config_mirror),
	.style = TABLE_ITEM,
	.dups = DUPS_KNOWN,
	.init = init_mirror,
	.check = config_check_mirror,
};
static const struct table refresh_table = {
	.fields = refresh_fields,
	.size = sizeof(struct config_refresh),
	.style = TABLE_ITEM,
	.dups = DUPS_FIRST,
};

static const struct field top_fields[] = {
	{.key = "source", .type = F_SECTION, .flags = REQUIRED,
	 .table = &source_table},
	/* Required unless Kafka alone: config_check_top. */
	{.key = "target", .type = F_SECTION, .table = &target_table},
	{.key = "batch", .type = F_SECTION, .flags = FIELD_DEFAULTS,
	 .table = &batch_table},
	{.key = "staging", .type = F_SECTION,
	 .flags = FIELD_ENABLES | FIELD_SKIP_NULL, .off = OFF(staging.enabled),
	 .table = &staging_table},
	{.key = "mappings", .type = F_LIST, .flags = RELOAD | FIELD_SKIP_NULL,
	 .off = OFF(mappings), .off2 = OFF(nmappings), .table = &mapping_table},
	{.key = "mirror", .type = F_LIST, .flags = RELOAD | FIELD_SKIP_NULL,
	 .off = OFF(mirrors), .off2 = OFF(nmirrors), .table = &mirror_table},
	{.key = "refresh", .type = F_LIST, .flags = RELOAD | FIELD_SKIP_NULL,
	 .off = OFF(refresh), .off2 = OFF(nrefresh), .table = &refresh_table},
	{.key = "snapshot", .type = F_SECTION, .flags = FIELD_DEFAULTS,
	 .table = &snapshot_table},
	{.key = "backfill", .type = F_SECTION, .flags = FIELD_DEFAULTS,
	 .table = &backfill_table},
	{.key = "kafka", .type = F_SECTION,
	 .flags = FIELD_ENABLES | FIELD_SKIP_NULL, .off = OFF(kafka.enabled),
	 .table = &kafka_table,
#if !WALPIPE_HAVE_KAFKA
	 .load = load_kafka_unsupported,
#endif
	},
	{.key = "metrics", .type = F_SECTION, .flags = FIELD_SKIP_NULL,
	 .table = &metrics_table},
	{.key = "log", .type = F_SECTION, .flags = FIELD_DEFAULTS,
	 .table = &log_table},
	{.key = "process", .type = F_SECTION, .flags = FIELD_DEFAULTS,
	 .table = &process_table},
	{.key = NULL},
};

/* A repeated section, even an unknown one, is an error. */
const struct table config_top = {
	.fields = top_fields,
	.style = TABLE_SECTION,
	.dups = DUPS_ANY,
	.top = true,
	.check = config_check_top,
};
