/* cmd_check.c: `walpipe check`: validate a configuration and show what flows where. */
#include "walpipe/commands.h"
#include "walpipe/config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *
mode_name(enum map_mode m)
{
	return m == MAP_MODE_UPSERT ? "upsert"
		   : m == MAP_MODE_APPEND ? "append"
								  : "none";
}

static void
print_summary(const struct wp_config *cfg)
{
	char *src = config_mask_conninfo(cfg->source.conninfo);
	char *tgt = config_mask_conninfo(cfg->target.conninfo);

	printf("%s: valid\n", cfg->path);
	printf("source \"%s\": slot %s%s, %zu table(s), %s\n", cfg->source.name,
		   cfg->source.slot, cfg->source.create_slot ? " (created if missing)" : "",
		   cfg->source.ntables, src);
	printf("target: schema %s, %s\n", cfg->target.schema, tgt);
	printf("batch: up to %lld changes, %lld bytes, %lld ms\n",
		   (long long) cfg->batch.max_changes, (long long) cfg->batch.max_bytes,
		   (long long) cfg->batch.max_delay_ms);
	if (cfg->staging.enabled)
		printf("staging: every change -> %s.%s (by %s, %lld ahead%s)\n",
			   cfg->staging.schema, cfg->staging.table, cfg->staging.partition,
			   (long long) cfg->staging.premake,
			   cfg->staging.retention_ms ? ", with retention" : "");
	for (size_t i = 0; i < cfg->nmappings; i++) {
		const struct config_mapping *m = &cfg->mappings[i];

		if (m->rule.mode == MAP_MODE_NONE) {
			printf("mapping: %s.%s -> staging only\n", m->from_schema,
				   m->from_table);
			continue;
		}
		printf("mapping: %s.%s -> %s.%s (%s", m->from_schema, m->from_table,
			   m->to_schema, m->to_table, mode_name(m->rule.mode));
		for (size_t k = 0; k < m->nkey; k++)
			printf("%s%s", k ? ", " : " on ", m->key[k]);
		printf(", %zu column(s)%s)\n", m->ncols, m->where ? ", filtered" : "");
	}
	for (size_t i = 0; i < cfg->nrefresh; i++)
		printf("refresh: %s.%s every %lld s%s\n", cfg->refresh[i].view_schema,
			   cfg->refresh[i].view_table,
			   (long long) (cfg->refresh[i].every_ms / 1000),
			   cfg->refresh[i].concurrently ? " (concurrently)" : "");
	if (cfg->kafka.enabled)
		printf("kafka: %s, topic %s, format %s\n", cfg->kafka.brokers,
			   cfg->kafka.topic, cfg->kafka.format);
	free(src);
	free(tgt);
}

int
cmd_check(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = NULL;
	bool quiet = false, unreadable;
	struct config_errors errs;
	struct wp_config *cfg;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'q': quiet = true; break;
		case 'h':
			printf("Usage: walpipe check -c FILE [--quiet]\n\n"
				   "Validate a walpipe configuration offline and print what "
				   "flows where.\nExit status: 0 valid, 1 invalid, 2 could "
				   "not check.\n");
			return 0;
		default:
			fprintf(stderr, "Try 'walpipe check --help'.\n");
			return 2;
		}
	}
	if (path == NULL || optind < argc) {
		fprintf(stderr, "walpipe check: %s\nTry 'walpipe check --help'.\n",
				path ? "unexpected argument" : "-c FILE is required");
		return 2;
	}
	cfg = config_load(path, &errs, &unreadable);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.msg[i]);
	if (cfg == NULL) {
		if (!unreadable)
			fprintf(stderr, "%s: %zu error(s)\n", path, errs.n);
		config_errors_free(&errs);
		return unreadable ? 2 : 1;
	}
	if (!quiet)
		print_summary(cfg);
	config_errors_free(&errs);
	config_free(cfg);
	return 0;
}
