/* log.c: one line per event on stderr, as text or JSON, with the source name. */
#include "walpipe/log.h"

#include "walpipe/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

/* The log configuration is the one global the style allows. */
static enum log_level log_threshold = LOG_INFO;
static bool log_json = false;
static char log_source[64] = "";

static const char *const level_names[] = {"debug",	 "info",  "notice",
										  "warning", "error", "fatal"};

void
log_configure(enum log_level level, bool json, const char *source)
{
	log_threshold = level;
	log_json = json;
	snprintf(log_source, sizeof(log_source), "%s", source ? source : "");
}

void
wp_log(enum log_level level, const char *fmt, ...)
{
	struct buf line = BUF_INIT;
	struct buf msg = BUF_INIT;
	struct timeval tv;
	struct tm tm;
	char ts[40];
	va_list ap;

	if (level < log_threshold)
		return;
	va_start(ap, fmt);
	buf_vappendf(&msg, fmt, ap);
	va_end(ap);
	while (msg.len > 0 && (msg.data[msg.len - 1] == '\n'))
		msg.data[--msg.len] = '\0';

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	if (log_json) {
		buf_appendf(&line, "{\"ts\":\"%s.%03dZ\",\"level\":\"%s\"", ts,
					(int) (tv.tv_usec / 1000), level_names[level]);
		if (log_source[0]) {
			buf_append_str(&line, ",\"source\":");
			buf_append_json_string(&line, log_source, strlen(log_source));
		}
		buf_append_str(&line, ",\"msg\":");
		buf_append_json_string(&line, msg.data ? msg.data : "", msg.len);
		buf_append_str(&line, "}\n");
	} else {
		buf_appendf(&line, "%s.%03dZ walpipe", ts, (int) (tv.tv_usec / 1000));
		if (log_source[0])
			buf_appendf(&line, "[%s]", log_source);
		/* Text goes to a terminal or journal: no raw control bytes. */
		buf_appendf(&line, " %s: ", level_names[level]);
		buf_append_printable(&line, msg.data ? msg.data : "", msg.len, true);
		buf_append_char(&line, '\n');
	}
	fwrite(line.data, 1, line.len, stderr);
	buf_free(&line);
	buf_free(&msg);
}
