/* notify.c: service manager notifications (systemd sd_notify), no-ops elsewhere. */
#include "walpipe/notify.h"

#include "walpipe/version.h"

#include <stdio.h>
#include <time.h>
#if WALPIPE_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

/*
 * Without NOTIFY_SOCKET in the environment (not started by systemd)
 * sd_notify does nothing, so these are cheap to call from anywhere.
 */
static void
notify_send(const char *msg)
{
#if WALPIPE_HAVE_SYSTEMD
	sd_notify(0, msg);
#else
	(void) msg;
#endif
}

void
notify_ready(const char *status)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
	notify_send(msg);
}

void
notify_watchdog(void)
{
	static time_t last;
	time_t now = time(NULL);

	if (now == last)
		return;
	last = now;
	notify_send("WATCHDOG=1");
}

void
notify_status(const char *status)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "STATUS=%s", status);
	notify_send(msg);
	notify_watchdog();
}

void
notify_stopping(void)
{
	notify_send("STOPPING=1");
}
