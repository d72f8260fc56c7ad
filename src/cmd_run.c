/* cmd_run.c: `walpipe run`: configuration, logging, signals and reloads around the run loop. */
#include "walpipe/commands.h"
#include "walpipe/buf.h"
#include "walpipe/config.h"
#include "walpipe/log.h"
#include "walpipe/mem.h"
#include "walpipe/metrics.h"
#include "walpipe/pgconn.h"
#include "walpipe/run.h"
#include "walpipe/settings.h"

#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Signal flags: the only globals the house style allows. */
static volatile sig_atomic_t run_stop = 0;
static volatile sig_atomic_t run_reload = 0;

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

static void
on_hup(int sig)
{
	(void) sig;
	run_reload = 1;
}

struct reloader {
	const char *path;
	struct run_state *current;
	bool allow_ahead;
};

/*
 * SIGHUP: validate the file again; keep the running configuration if it
 * is invalid or changes what a running walpipe cannot change (where it
 * reads from and writes to: the configuration table's keys without
 * FIELD_RELOAD, which config_fixed_changes names, each logged here).
 * Called between sessions, with no batch in hand.
 */
static const struct run_settings *
reload_config(void *arg)
{
	struct reloader *r = arg;
	struct config_errors errs;
	struct wp_config *cfg;
	const struct wp_config *old = run_state_config(r->current);
	bool unreadable;
	char **fixed;
	size_t nfixed;

	cfg = config_load(r->path, &errs, &unreadable);
	if (cfg == NULL) {
		for (size_t i = 0; i < errs.n; i++)
			wp_log(LOG_ERROR, "%s", errs.msg[i]);
		wp_log(LOG_ERROR, "not reloading: %s is invalid (%zu error(s)); the "
						  "running configuration stays",
			   r->path, errs.n);
		config_errors_free(&errs);
		return NULL;
	}
	config_errors_free(&errs);
	if (!cmd_config_vet(cfg, true)) {
		wp_log(LOG_ERROR, "not reloading: %s is invalid; the running "
						  "configuration stays",
			   r->path);
		config_free(cfg);
		return NULL;
	}
	nfixed = config_fixed_changes(old, cfg, &fixed);
	for (size_t i = 0; i < nfixed; i++) {
		wp_log(LOG_ERROR, "%s cannot change while walpipe runs; restart it "
						  "to apply the change",
			   fixed[i]);
		free(fixed[i]);
	}
	free(fixed);
	if (nfixed) {
		wp_log(LOG_ERROR, "not reloading: the running configuration stays");
		config_free(cfg);
		return NULL;
	}
	run_state_free(r->current);
	r->current = run_state_new(cfg, r->allow_ahead);
	wp_log(LOG_NOTICE, "reloaded %s: %zu mapping(s)", r->path,
		   cfg->nmappings);
	return run_state_settings(r->current);
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
	bool allow_ahead = false;
	struct wp_config *cfg;
	struct reloader rl;
	struct run_control ctl;
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
				   "SIGTERM/SIGINT: commit the batch in hand and exit 0. "
				   "SIGHUP: reload FILE.\n"
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
	cfg = cmd_config_load(path, &rc);
	if (cfg == NULL)
		return rc;

	cmd_signals_install(on_stop, on_hup);

	rl.path = path;
	rl.allow_ahead = allow_ahead;
	rl.current = run_state_new(cfg, allow_ahead);
	cmd_scheduling_apply(cfg);
	ctl.stop = &run_stop;
	ctl.reload = &run_reload;
	ctl.reload_fn = reload_config;
	ctl.arg = &rl;
	ctl.metrics = NULL;
	if (cfg->metrics.listen) {
		char err[256];

		ctl.metrics = metrics_start(cfg->metrics.listen, cfg->source.name, err,
									sizeof(err));
		if (ctl.metrics == NULL) {
			wp_log(LOG_ERROR, "%s", err);
			run_state_free(rl.current);
			return 1;
		}
		wp_log(LOG_INFO, "serving metrics on http://%s/metrics",
			   cfg->metrics.listen);
	}
	rc = run_loop(run_state_settings(rl.current), &ctl);
	metrics_stop(ctl.metrics);
	run_state_free(rl.current);
	return rc;
}
