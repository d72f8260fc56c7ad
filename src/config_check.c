/* config_check.c: the configuration's rules across keys, the table's check hooks. */
#include "config_int.h"

#include "walpipe/buf.h"
#include "walpipe/kafka_msg.h"
#include "walpipe/kafka_select.h"
#include "walpipe/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* One mapping.                                                         */

static bool
col_mapped(const struct config_mapping *m, const char *target)
{
	for (size_t i = 0; i < m->ncols; i++)
		if (strcmp(m->cols[i].target, target) == 0)
			return true;
	return false;
}

/* "to" and "columns": what a mapping writes, unless it only stages. */
static void
mapping_check_target(struct loader *L, const struct config_mapping *m,
					 const struct ynode *n)
{
	if (m->rule.mode == MAP_MODE_NONE)
		return;
	if (ynode_get(n, "to") == NULL)
		config_error(L, n->line, n->col, "missing required key \"to\"");
	if (ynode_get(n, "columns") == NULL)
		config_error(L, n->line, n->col, "missing required key \"columns\"");
}

/* The key and the soft delete column must be among the mapped columns. */
static void
mapping_check_columns(struct loader *L, const struct config_mapping *m,
					  const struct ynode *n)
{
	if (m->rule.mode == MAP_MODE_UPSERT && m->nkey == 0 && m->ncols > 0 &&
		ynode_get(n, "key") == NULL) /* else its own error says why */
		config_error(L, n->line, n->col,
					 "mode upsert needs \"key\": the target columns that "
					 "identify a row");
	for (size_t i = 0; i < m->nkey; i++)
		if (m->ncols > 0 && !col_mapped(m, m->key[i])) {
			const struct ynode *key = ynode_get(n, "key");
			size_t o = config_path_push(L, ".key");

			config_error(L, key->line, key->col,
						 "key column \"%s\" is not among the mapped columns",
						 m->key[i]);
			config_path_pop(L, o);
		}
	if (m->soft_delete_column && !col_mapped(m, m->soft_delete_column)) {
		size_t o = config_path_push(L, ".on_delete.soft_delete");
		const struct ynode *od = ynode_get(n, "on_delete");

		config_error(L, od->line, od->col,
					 "soft_delete column \"%s\" is not among the mapped "
					 "columns (map it, e.g. to {sql: \"null::timestamptz\"}, "
					 "so a re-insert clears it)",
					 m->soft_delete_column);
		config_path_pop(L, o);
	}
}

/*
 * A keyless mirror finds a row by all its mapped values and changes
 * exactly one: a key would make it an upsert, a where or a soft delete
 * would leave rows behind that later changes could match instead of the
 * right one (not supported).
 */
static void
mapping_check_keyless(struct loader *L, const struct config_mapping *m,
					  const struct ynode *n)
{
	static const char *const no[] = {"key", "where", "on_delete"};
	static const char *const why[] = {
		"mode keyless matches rows on every mapped column; with a key, "
		"use mode upsert",
		"mode keyless mirrors every row; a where is not supported "
		"(use mode append)",
		"mode keyless applies deletes to the one row they match; "
		"on_delete other than delete is not supported (use mode "
		"append)"};

	if (m->rule.mode != MAP_MODE_KEYLESS)
		return;
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		const struct ynode *x = ynode_get(n, no[i]);
		size_t o;

		if (x == NULL || (i == 2 && m->rule.on_delete == MAP_DELETE_DELETE))
			continue;
		o = config_path_push(L, ".%s", no[i]);
		config_error(L, x->line, x->col, "%s", why[i]);
		config_path_pop(L, o);
	}
}

/* The rule map_plan_new compiles points into the mapping's storage. */
static void
mapping_fill_rule(struct config_mapping *m, const struct ynode *n)
{
	const struct ynode *v;

	if ((v = ynode_get(n, "from")) != NULL) {
		m->from_line = v->line;
		m->from_col = v->col;
	}
	if ((v = ynode_get(n, "to")) != NULL) {
		m->to_line = v->line;
		m->to_col = v->col;
	}
	m->rule.from_schema = m->from_schema;
	m->rule.from_table = m->from_table;
	m->rule.to_schema = m->to_schema;
	m->rule.to_table = m->to_table;
	m->rule.key = (const char *const *) m->key;
	m->rule.nkey = m->nkey;
	m->rule.cols = m->cols;
	m->rule.ncols = m->ncols;
	m->rule.where = m->where;
	m->rule.soft_delete_column = m->soft_delete_column;
	/* Append without a key: deletes cannot be matched, so ignored. */
	if (m->rule.mode == MAP_MODE_APPEND && m->nkey == 0)
		m->rule.on_delete = MAP_DELETE_IGNORE;
}

void
config_check_mapping(struct loader *L, void *obj, const struct ynode *n)
{
	struct config_mapping *m = obj;

	mapping_check_target(L, m, n);
	mapping_check_columns(L, m, n);
	mapping_check_keyless(L, m, n);
	if (m->rule.on_delete != MAP_DELETE_IGNORE &&
		m->rule.mode == MAP_MODE_APPEND && m->nkey == 0 &&
		ynode_get(n, "on_delete"))
		config_error(L, n->line, n->col,
					 "on_delete needs \"key\" in mode append: which rows "
					 "would a delete remove?");
	mapping_fill_rule(m, n);
}

/* ------------------------------------------------------------------ */
/* Sections.                                                            */

/* The staging table's partitions are NAME_pYYYYMMDD and NAME_default:
 * longer than 63 bytes, PostgreSQL would cut them and they would clash. */
void
config_check_staging(struct loader *L, void *obj, const struct ynode *n)
{
	struct wp_config *cfg = obj;
	const struct ynode *t = ynode_get(n, "table");
	size_t o;

	if (cfg->staging.table == NULL ||
		strlen(cfg->staging.table) <= IDENT_MAXLEN - 10)
		return;
	o = config_path_push(L, ".table");
	config_error(L, t->line, t->col,
				 "table name \"%s\" is %zu bytes long: its partitions are "
				 "named %s_pYYYYMMDD, which must fit in %d bytes, so use at "
				 "most %d",
				 cfg->staging.table, strlen(cfg->staging.table),
				 cfg->staging.table, IDENT_MAXLEN, IDENT_MAXLEN - 10);
	config_path_pop(L, o);
}

/* Debezium's column lists and key columns compile (kafka_select.h); an
 * error points at the option it comes from. */
static void
config_check_kafka_select(struct loader *L, const struct wp_config *cfg,
						  const struct ynode *n)
{
	const char *keys[] = {"column_include_list", "column_exclude_list",
						  "message_key_columns"};
	const char *vals[] = {cfg->kafka.column_include_list,
						  cfg->kafka.column_exclude_list,
						  cfg->kafka.message_key_columns};
	char why[300];
	bool err;

	for (size_t i = 0; i < 3; i++) {
		const struct ynode *t = ynode_get(n, keys[i]);
		struct kafka_select *s;
		size_t o;

		if (t == NULL)
			continue;
		/* Each alone, so that the error names its own line. */
		s = kafka_select_new(i == 0 ? vals[i] : NULL, i == 1 ? vals[i] : NULL,
							 i == 2 ? vals[i] : NULL, &err, why, sizeof(why));
		kafka_select_free(s);
		if (!err && i == 1 && vals[0] && vals[0][0] && vals[1] &&
			vals[1][0]) {
			snprintf(why, sizeof(why),
					 "column_include_list and column_exclude_list cannot "
					 "both be set (Debezium's rule: one or the other)");
			err = true;
		}
		if (!err)
			continue;
		o = config_path_push(L, ".%s", keys[i]);
		config_error(L, t->line, t->col, "%s", why);
		config_path_pop(L, o);
	}
}

void
config_check_kafka(struct loader *L, void *obj, const struct ynode *n)
{
	struct wp_config *cfg = obj;
	/* Every topic template of the section: the changes', the logical
	 * decoding messages', the transaction metadata's. */
	const struct {
		const char *key, *tmpl;
	} tmpls[] = {
		{"topic", cfg->kafka.topic},
		{"messages_topic", cfg->kafka.messages_topic},
		{"transaction_topic", cfg->kafka.transaction_topic},
	};

	for (size_t i = 0; i < sizeof(tmpls) / sizeof(tmpls[0]); i++) {
		const struct ynode *t = ynode_get(n, tmpls[i].key);
		char why[200];
		size_t o;

		if (tmpls[i].tmpl == NULL || t == NULL ||
			kafka_msg_topic_valid(tmpls[i].tmpl, why, sizeof(why)))
			continue;
		o = config_path_push(L, ".%s", tmpls[i].key);
		config_error(L, t->line, t->col, "%s", why);
		config_path_pop(L, o);
	}
	config_check_kafka_select(L, cfg, n);
}

/* ------------------------------------------------------------------ */
/* Across sections.                                                     */

/*
 * Whether mappings a and b may write one target: appends never touch each
 * other's rows; upserts on the same key (the partitions of one table, or
 * shards) do as one source table would, since a batch applies every
 * mapping's deletes before any mapping's writes.  A soft delete runs after
 * the writes, so it could mark a row another mapping has just moved in.
 */
static bool
may_share(const struct config_mapping *a, const struct config_mapping *b)
{
	if (a->rule.mode == MAP_MODE_APPEND && b->rule.mode == MAP_MODE_APPEND)
		return true;
	if (a->rule.mode != MAP_MODE_UPSERT || b->rule.mode != MAP_MODE_UPSERT ||
		a->rule.on_delete == MAP_DELETE_SOFT ||
		b->rule.on_delete == MAP_DELETE_SOFT || a->rule.nkey != b->rule.nkey)
		return false;
	for (size_t k = 0; k < a->rule.nkey; k++)
		if (strcmp(a->rule.key[k], b->rule.key[k]) != 0)
			return false;
	return true;
}

static void
check_cross(struct loader *L)
{
	struct wp_config *cfg = L->cfg;

	for (size_t i = 0; i < cfg->nmappings; i++) {
		struct config_mapping *m = &cfg->mappings[i];
		bool listed = false;
		char *q;

		if (m->from_schema == NULL)
			continue;
		q = ident_qualified(m->from_schema, m->from_table);
		for (size_t j = 0; j < cfg->source.ntables; j++)
			listed |= strcmp(cfg->source.tables[j], q) == 0;
		/* A mirror's patterns are in add-tables too, excludes or not. */
		for (size_t j = 0; j < cfg->nmirrors; j++)
			for (size_t k = 0; k < cfg->mirrors[j].nfrom; k++)
				listed |= mirror_pattern_match(&cfg->mirrors[j].from_p[k],
											   m->from_schema, m->from_table);
		L->path[0] = '\0';
		config_path_push(L, "mappings[%zu].from", i);
		if (!listed && (cfg->source.ntables > 0 || cfg->nmirrors > 0))
			config_error(L, m->from_line, m->from_col,
					  "table \"%s\" is not in source.tables%s, so no change "
					  "of it would ever arrive",
					  q, cfg->nmirrors ? " or a mirror's from" : "");
		free(q);
		for (size_t j = 0; j < i && m->to_schema; j++) {
			struct config_mapping *o = &cfg->mappings[j];

			if (o->to_schema && !strcmp(o->to_schema, m->to_schema) &&
				!strcmp(o->to_table, m->to_table) && !may_share(o, m)) {
				char *tq = ident_qualified(m->to_schema, m->to_table);

				L->path[0] = '\0';
				config_path_push(L, "mappings[%zu].to", i);
				config_error(L, m->to_line, m->to_col,
						  "target \"%s\" is already written by "
						  "mappings[%zu]; mappings may share a target only "
						  "as appends, or as upserts with the same key and "
						  "no soft delete (the partitions of one table)",
						  tq, j);
				free(tq);
			}
		}
	}
	L->path[0] = '\0';
}

/* Whether a table's changes go to Kafka: yes unless a mapping opts out. */
static bool
table_to_kafka(const struct wp_config *cfg, const char *schema,
			   const char *table)
{
	for (size_t i = 0; i < cfg->nmappings; i++)
		if (!cfg->mappings[i].kafka && cfg->mappings[i].from_schema &&
			strcmp(cfg->mappings[i].from_schema, schema) == 0 &&
			strcmp(cfg->mappings[i].from_table, table) == 0)
			return false;
	return true;
}

/*
 * The topic template with each placeholder's value as it is, between
 * markers no name holds: equal for two tables exactly when the template
 * itself gives them one topic (one without {schema}, say).
 */
static char *
topic_unsanitized(const char *tmpl, const char *source, const char *schema,
				  const char *table)
{
	static const char *const ph[] = {"{source}", "{schema}", "{table}"};
	const char *vals[] = {source, schema, table};
	struct buf b = BUF_INIT;

	buf_append_str(&b, "");
	for (const char *p = tmpl; *p; p++) {
		size_t i;

		for (i = 0; i < 3; i++)
			if (strncmp(p, ph[i], strlen(ph[i])) == 0)
				break;
		if (i == 3) {
			buf_append_char(&b, *p);
			continue;
		}
		buf_appendf(&b, "\x01%s\x01", vals[i]);
		p += strlen(ph[i]) - 1;
	}
	return b.data;
}

/*
 * Two tables whose topics come out the same although the template sets
 * them apart: a topic name holds only letters, digits, ".", "_" and "-",
 * so kafka_msg_topic writes "_" for any other byte, and a dot inside a
 * name reads as the separator.  Their changes would share a topic, mixed,
 * without a word: refuse it.  Only checked on an otherwise valid file
 * (the list then matches the YAML).
 */
static void
check_topics(struct loader *L, const struct ynode *tables)
{
	struct wp_config *cfg = L->cfg;
	struct ident_name *n;
	char **topic, **raw;

	if (!cfg->kafka.enabled || !cfg->kafka.topic || L->errs->n > 0 ||
		tables == NULL || tables->nkids != cfg->source.ntables)
		return;
	n = wp_calloc(cfg->source.ntables + 1, sizeof(*n));
	topic = wp_calloc(cfg->source.ntables + 1, sizeof(*topic));
	raw = wp_calloc(cfg->source.ntables + 1, sizeof(*raw));
	for (size_t i = 0; i < cfg->source.ntables; i++) {
		struct buf b = BUF_INIT;
		char err[200];

		if (!ident_parse(cfg->source.tables[i], 2, 2, &n[i], err,
						 sizeof(err)) ||
			!table_to_kafka(cfg, n[i].part[0], n[i].part[1]))
			continue;
		kafka_msg_topic(&b, cfg->kafka.topic, cfg->source.name,
						n[i].part[0], n[i].part[1]);
		topic[i] = b.data;
		raw[i] = topic_unsanitized(cfg->kafka.topic, cfg->source.name,
								   n[i].part[0], n[i].part[1]);
		for (size_t j = 0; j < i && topic[i]; j++) {
			if (topic[j] == NULL || strcmp(topic[i], topic[j]) != 0 ||
				strcmp(raw[i], raw[j]) == 0)
				continue;
			L->path[0] = '\0';
			config_path_push(L, "source.tables[%zu]", i);
			config_error(L, tables->kids[i]->line, tables->kids[i]->col,
					  "table %s would share Kafka topic \"%s\" with table "
					  "%s: a topic name keeps letters, digits, \".\", \"_\" "
					  "and \"-\" and has \"_\" for any other character; set "
					  "kafka: false on the mappings of one of them, or change "
					  "kafka.topic",
					  cfg->source.tables[i], topic[i], cfg->source.tables[j]);
			L->path[0] = '\0';
			break;
		}
	}
	for (size_t i = 0; i < cfg->source.ntables; i++) {
		ident_name_free(&n[i]);
		free(topic[i]);
		free(raw[i]);
	}
	free(n);
	free(topic);
	free(raw);
}


/* Without a target: only Kafka may go without the analytics database. */
static void
check_target(struct loader *L, const struct ynode *root)
{
	const struct ynode *n = ynode_get(root, "kafka");
	/* A kafka section counts even when it is refused (a build without
	 * Kafka, an error in it): its own error says what is wrong. */
	bool has_kafka = n != NULL && !ynode_is_null(n);

	/*
	 * Kafka alone needs no analytics database: the slot itself is then
	 * the checkpoint.  Mappings, staging and refreshes write there.
	 */
	if (ynode_get(root, "target") == NULL) {
		if (!has_kafka)
			config_error(L, 1, 1, "missing required section \"target\"");
		else if (ynode_get(root, "mappings") || ynode_get(root, "mirror") ||
				 ynode_get(root, "staging") || ynode_get(root, "refresh"))
			config_error(L, 1, 1,
						 "missing required section \"target\": mappings, "
						 "mirrors, staging and refresh write to the analytics "
						 "database (only kafka can go without one)");
	}
	if (L->cfg->nmappings == 0 && !L->cfg->staging.enabled && !has_kafka &&
		ynode_get(root, "source") && !ynode_get(root, "mappings") &&
		!ynode_get(root, "staging") && !ynode_get(root, "mirror"))
		config_error(L, 1, 1,
					 "nothing to do: configure staging, mappings or both");
}

/* A mirror's spec, from what its keys loaded. */
void
config_check_mirror(struct loader *L, void *obj, const struct ynode *n)
{
	struct config_mirror *m = obj;

	m->spec.to = m->to;
	m->spec.soft_delete_column = m->soft_delete_column;
	m->spec.meta = m->meta;
	m->spec.nmeta = m->nmetadata;
	for (size_t i = 0; m->soft_delete_column && i < m->nmetadata; i++)
		if (strcmp(m->metanames[i], m->soft_delete_column) == 0)
			config_error(L, n->line, n->col,
						 "column \"%s\" is both soft_delete and metadata",
						 m->soft_delete_column);
}

/* source.tables may go only when mirrors say what to stream. */
static void
check_tables(struct loader *L, const struct ynode *root)
{
	const struct ynode *src = ynode_get(root, "source");

	if (src == NULL || src->kind != YNODE_MAP ||
		ynode_get(src, "tables") != NULL || ynode_get(root, "mirror") != NULL)
		return;
	L->path[0] = '\0';
	config_path_push(L, "source");
	config_error(L, src->line, src->col, "missing required key \"tables\"");
	L->path[0] = '\0';
}

/*
 * source.publication names what pgoutput streams: with wal2json it would
 * silently do nothing, so it is refused.  It defaults to walpipe_NAME,
 * like the slot, in pubname, which no key loads: a reload then compares
 * only what the file says.
 */
static void
check_publication(struct loader *L, struct wp_config *cfg,
				  const struct ynode *root)
{
	const struct ynode *src = ynode_get(root, "source");
	const struct ynode *pub = src ? ynode_get(src, "publication") : NULL;

	if (pub != NULL && cfg->source.plugin != CONFIG_PLUGIN_PGOUTPUT) {
		L->path[0] = '\0';
		config_path_push(L, "source.publication");
		config_error(L, pub->line, pub->col,
					 "a publication is only used with plugin pgoutput: set "
					 "source.plugin: pgoutput, or remove source.publication");
		L->path[0] = '\0';
	}
	if (cfg->source.publication)
		cfg->source.pubname = wp_strdup(cfg->source.publication);
	else if (cfg->source.name) {
		struct buf b = BUF_INIT;

		buf_appendf(&b, "walpipe_%s", cfg->source.name);
		cfg->source.pubname = b.data;
	}
}

void
config_check_top(struct loader *L, void *obj, const struct ynode *root)
{
	struct wp_config *cfg = obj;

	if (cfg->source.name && !cfg->source.slot) {
		struct buf b = BUF_INIT;

		buf_appendf(&b, "walpipe_%s", cfg->source.name);
		cfg->source.slot = b.data;
	}
	check_publication(L, cfg, root);
	check_tables(L, root);
	check_target(L, root);
	check_cross(L);
	check_topics(L, ynode_get(ynode_get(root, "source"), "tables"));
}
