/* log.h: one line per event on stderr, as text or JSON, with the source name. */
#ifndef WALPIPE_LOG_H
#define WALPIPE_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_DEBUG = 0,
	LOG_INFO,
	LOG_NOTICE,
	LOG_WARNING,
	LOG_ERROR,
	LOG_FATAL,
};

/* The threshold and format; set once at start (and on reload).  Not
 * thread-safe: walpipe logs from its main thread only. */
void log_configure(enum log_level level, bool json, const char *source);

/* Messages in the PostgreSQL style: lower case, no trailing period.  A
 * message may end in a newline (libpq's do); it is trimmed. */
void wp_log(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
