/* run.h: the apply loop of `walpipe run`: stream, batch, apply, checkpoint, confirm. */
#ifndef WALPIPE_RUN_H
#define WALPIPE_RUN_H

#include "walpipe/metrics.h"
#include "walpipe/settings.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How the caller steers the loop: flags set by signal handlers. */
struct run_control {
	volatile sig_atomic_t *stop;   /* finish the batch, commit, return 0 */
	volatile sig_atomic_t *reload; /* finish the batch, then reload_fn */
	/* Returns the settings to run with from now on, or NULL to keep the
	 * current ones (an invalid file, a key that cannot change live). */
	const struct run_settings *(*reload_fn)(void *arg);
	void *arg;
	struct metrics *metrics; /* NULL: no metrics endpoint */
};

/*
 * Run until *ctl->stop is set (then finish the batch in hand, commit,
 * confirm, and return 0) or an error that retrying cannot fix (return 1,
 * logged).  Connection failures are logged and retried with capped
 * exponential backoff.  When *ctl->reload is set the batch in hand is
 * committed and the session restarts with what reload_fn returns.  Logs.
 */
int run_loop(const struct run_settings *rs, const struct run_control *ctl);


#endif
