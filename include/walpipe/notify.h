/* notify.h: service manager notifications (systemd sd_notify), no-ops elsewhere. */
#ifndef WALPIPE_NOTIFY_H
#define WALPIPE_NOTIFY_H

/* READY=1 with a STATUS line. */
void notify_ready(const char *status);

/* STATUS=...; also WATCHDOG=1 (at most once a second). */
void notify_status(const char *status);

/* WATCHDOG=1, at most once a second: call from every loop and long step. */
void notify_watchdog(void);

/* STOPPING=1. */
void notify_stopping(void);

#endif
