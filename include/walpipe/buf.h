/* buf.h: growable byte buffers with a retention cap, for per-message scratch. */
#ifndef WALPIPE_BUF_H
#define WALPIPE_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * A byte buffer that is always NUL-terminated (data[len] == '\0') once
 * anything was appended.  Embed it by value; zero-initialise with
 * BUF_INIT.  Memory comes from wp_malloc (aborts on out-of-memory).
 */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};

#define BUF_INIT {NULL, 0, 0}

/* Make room for n more bytes (plus the NUL). */
void buf_reserve(struct buf *b, size_t n);
void buf_append(struct buf *b, const void *data, size_t n);
void buf_append_str(struct buf *b, const char *s);
void buf_append_char(struct buf *b, char c);
void buf_appendf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void buf_vappendf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/*
 * Append s (n bytes, may contain NUL) as a JSON string literal with the
 * quotes: `"`, `\` and control characters escaped; other bytes (UTF-8)
 * copied as they are.
 */
void buf_append_json_string(struct buf *b, const char *s, size_t n);

/*
 * Empty the buffer for the next message.  If it grew beyond keep bytes,
 * its memory is released so that one huge message does not pin memory
 * for the life of the process.
 */
void buf_reset(struct buf *b, size_t keep);

/* Release the memory; the buffer may be reused afterwards.  NULL-safe. */
void buf_free(struct buf *b);

/*
 * Append s[0..n) for a terminal or a text log: control characters (and
 * DEL) as \xNN, so that bytes from a server error or a source value
 * (an escape sequence, a carriage return) cannot rewrite what is shown;
 * a newline stays one when keep_newline (a message's detail and hint
 * lines).  Everything else, UTF-8 included, as it is.
 */
void buf_append_printable(struct buf *b, const char *s, size_t n,
						  bool keep_newline);

#endif
