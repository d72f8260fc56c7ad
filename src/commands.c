/* commands.c: what the subcommands share: loading and vetting a configuration, the stop signals, the scheduling policy. */
#define _GNU_SOURCE /* SCHED_BATCH, SCHED_RESET_ON_FORK */
#include "walpipe/commands.h"
#include "walpipe/buf.h"
#include "walpipe/config.h"
#include "walpipe/log.h"
#include "walpipe/pgconn.h"
#include "walpipe/sink_kafka.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

struct wp_config *
cmd_config_load_checked(const char *path, bool kafka, size_t *nerr,
						int *status)
{
	struct config_errors errs;
	bool unreadable;
	struct wp_config *cfg = config_load(path, &errs, &unreadable);
	size_t n;

	if (cfg && kafka && cfg->kafka.enabled) {
		/* librdkafka itself judges the properties: a misspelt or
		 * out-of-range one is reported at its line. */
		struct sink_kafka_config kc;

		sink_kafka_config_from(&kc, cfg);
		if (!sink_kafka_check(&kc, &errs)) {
			config_free(cfg);
			cfg = NULL;
		}
	}
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.msg[i]);
	n = errs.n;
	config_errors_free(&errs);
	if (cfg && !cmd_config_vet(cfg, false)) {
		config_free(cfg);
		cfg = NULL;
		n++;
	}
	if (nerr)
		*nerr = n;
	*status = cfg ? 0 : unreadable ? 2 : 1;
	return cfg;
}

struct wp_config *
cmd_config_load(const char *path, int *status)
{
	return cmd_config_load_checked(path, false, NULL, status);
}

/* One line of cmd_config_vet's. */
static void
vet_say(bool log, bool error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
vet_say(bool log, bool error, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vappendf(&b, fmt, ap);
	va_end(ap);
	if (log)
		wp_log(error ? LOG_ERROR : LOG_WARNING, "%s", b.data);
	else
		fprintf(stderr, "%s%s\n", error ? "" : "warning: ", b.data);
	buf_free(&b);
}

bool
cmd_config_vet(const struct wp_config *cfg, bool log)
{
	const char *const keys[] = {"source.conninfo", "target.conninfo"};
	const char *const vals[] = {cfg->source.conninfo, cfg->target.conninfo};
	bool ok = true, secret = false;
	struct stat st;
	char err[512];

	for (int i = 0; i < 2; i++) {
		if (vals[i] == NULL)
			continue;
		if (!pgconn_check(vals[i], err, sizeof(err))) {
			vet_say(log, true,
					"%s: %s: invalid connection string (not shown: it may "
					"hold a password): %s",
					cfg->path, keys[i], err);
			ok = false;
		}
		secret |= pgconn_has_password(vals[i]);
	}
	if (secret && stat(cfg->path, &st) == 0 && (st.st_mode & 077) != 0)
		vet_say(log, false,
				"%s holds a password and is readable by group or others "
				"(mode %04o)\nchmod 600 it, or move the password to "
				"/etc/walpipe/pgpass (the unit's PGPASSFILE, mode 600).",
				cfg->path, (unsigned) (st.st_mode & 07777));
	return ok;
}

void
cmd_signals_install(void (*on_stop)(int), void (*on_hup)(int))
{
	struct sigaction sa;

	/* No SA_RESTART: poll() must return so the loop sees the flags. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (on_hup) {
		sa.sa_handler = on_hup;
		sigaction(SIGHUP, &sa, NULL);
	}
	signal(SIGPIPE, SIG_IGN);
}

void
cmd_scheduling_apply(const struct wp_config *cfg)
{
	struct sched_param sp = {.sched_priority = 0};
	int cur, reset;

	if (cfg->process.scheduling == CONFIG_SCHED_INHERIT)
		return;
	cur = sched_getscheduler(0);
	if (cur < 0) {
		wp_log(LOG_WARNING,
			   "process.scheduling: could not read the scheduling policy "
			   "(%s); it is left as it is",
			   strerror(errno));
		return;
	}
	/* Started with --reset-on-fork (chrt, systemd): keep it so. */
	reset = cur & SCHED_RESET_ON_FORK;
	cur &= ~SCHED_RESET_ON_FORK;
	if (cur == SCHED_BATCH)
		return;
	if (cur != SCHED_OTHER) {
		/* A real-time or idle policy is the operator's choice. */
		wp_log(LOG_INFO,
			   "process.scheduling: started under %s, which is left as it "
			   "is (batch replaces only the default policy)",
			   cur == SCHED_IDLE ? "SCHED_IDLE"
			   : cur == SCHED_FIFO ? "SCHED_FIFO"
			   : cur == SCHED_RR	 ? "SCHED_RR"
								 : "another policy");
		return;
	}
	if (sched_setscheduler(0, SCHED_BATCH | reset, &sp) != 0) {
		wp_log(LOG_WARNING,
			   "process.scheduling: could not switch to SCHED_BATCH (%s); "
			   "walpipe runs under the default policy",
			   strerror(errno));
		return;
	}
	wp_log(LOG_DEBUG, "process.scheduling: running as SCHED_BATCH");
}
