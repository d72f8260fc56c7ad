/* cmd_run.c: `walpipe run`: load the configuration, set up logging and signals, run. */
#include "walpipe/commands.h"
#include "walpipe/config.h"
#include "walpipe/log.h"
#include "walpipe/mem.h"
#include "walpipe/run.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Signal flags: the only globals the house style allows. */
static volatile sig_atomic_t run_stop = 0;

static void
on_stop(int sig)
{
	(void) sig;
	if (run_stop) {
		/* Second signal: leave now.  Nothing unconfirmed is lost: the
		 * slot keeps it and the checkpoint says where to resume. */
		_exit(1);
	}
	run_stop = 1;
}

static enum log_level
level_of(const char *s)
{
	if (!strcmp(s, "debug"))
		return LOG_DEBUG;
	if (!strcmp(s, "notice"))
		return LOG_NOTICE;
	if (!strcmp(s, "warning"))
		return LOG_WARNING;
	if (!strcmp(s, "error"))
		return LOG_ERROR;
	return LOG_INFO;
}

int
cmd_run(int argc, char **argv)
{
	enum { OPT_ALLOW_AHEAD = 256 };
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"allow-slot-ahead", no_argument, NULL, OPT_ALLOW_AHEAD},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = NULL;
	bool allow_ahead = false, unreadable;
	struct config_errors errs;
	struct wp_config *cfg;
	struct run_settings rs;
	struct map_rule *rules;
	struct sigaction sa;
	char *tables, retention[32];
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case OPT_ALLOW_AHEAD: allow_ahead = true; break;
		case 'h':
			printf("Usage: walpipe run -c FILE [--allow-slot-ahead]\n\n"
				   "Stream the source slot into the analytics database, "
				   "exactly once.\n"
				   "  --allow-slot-ahead  accept a slot that is ahead of the "
				   "checkpoint\n"
				   "                      (changes in between are lost)\n");
			return 0;
		default:
			fprintf(stderr, "Try 'walpipe run --help'.\n");
			return 2;
		}
	}
	if (path == NULL || optind < argc) {
		fprintf(stderr, "walpipe run: -c FILE is required\n");
		return 2;
	}
	cfg = config_load(path, &errs, &unreadable);
	if (cfg == NULL) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msg[i]);
		config_errors_free(&errs);
		return unreadable ? 2 : 1;
	}
	config_errors_free(&errs);
	log_configure(level_of(cfg->log.level), strcmp(cfg->log.format, "json") == 0,
				  cfg->source.name);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	rules = wp_calloc(cfg->nmappings ? cfg->nmappings : 1, sizeof(*rules));
	for (size_t i = 0; i < cfg->nmappings; i++)
		rules[i] = cfg->mappings[i].rule;
	tables = config_tables_list(cfg);
	memset(&rs, 0, sizeof(rs));
	rs.source_name = cfg->source.name;
	rs.source_conninfo = cfg->source.conninfo;
	rs.slot = cfg->source.slot;
	rs.create_slot = cfg->source.create_slot;
	rs.tables = tables;
	rs.target_conninfo = cfg->target.conninfo;
	rs.target_schema = cfg->target.schema;
	rs.max_changes = (size_t) cfg->batch.max_changes;
	rs.max_bytes = (size_t) cfg->batch.max_bytes;
	rs.max_delay_ms = (int) cfg->batch.max_delay_ms;
	if (cfg->staging.enabled) {
		rs.staging_schema = cfg->staging.schema;
		rs.staging_table = cfg->staging.table;
		rs.partition_unit = cfg->staging.partition;
		rs.premake = (int) cfg->staging.premake;
		if (cfg->staging.retention_ms) {
			snprintf(retention, sizeof(retention), "%lld milliseconds",
					 (long long) cfg->staging.retention_ms);
			rs.retention = retention;
		}
		rs.stage_messages = cfg->staging.messages;
		rs.stage_unmapped = cfg->staging.unmapped;
	}
	rs.rules = rules;
	rs.nrules = cfg->nmappings;
	rs.refresh = cfg->refresh;
	rs.nrefresh = cfg->nrefresh;
	rs.allow_slot_ahead = allow_ahead;
	rs.status_interval_ms = cfg->source.status_interval_ms;

	rc = run_loop(&rs, &run_stop);
	free(rules);
	free(tables);
	config_free(cfg);
	return rc;
}
