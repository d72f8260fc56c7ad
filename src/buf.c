/* buf.c: growable byte buffers with a retention cap, for per-message scratch. */
#include "walpipe/buf.h"

#include "walpipe/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
buf_reserve(struct buf *b, size_t n)
{
	size_t need = b->len + n + 1;
	size_t cap;

	if (need <= b->cap)
		return;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	b->data = wp_realloc(b->data, cap);
	b->cap = cap;
}

void
buf_append(struct buf *b, const void *data, size_t n)
{
	buf_reserve(b, n);
	if (n)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
buf_append_str(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void
buf_append_char(struct buf *b, char c)
{
	buf_reserve(b, 1);
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
}

void
buf_vappendf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	buf_reserve(b, 64);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	if (n >= 0 && (size_t) n >= b->cap - b->len) {
		buf_reserve(b, (size_t) n);
		n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
	}
	va_end(ap2);
	if (n > 0)
		b->len += (size_t) n;
}

void
buf_appendf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vappendf(b, fmt, ap);
	va_end(ap);
}

void
buf_append_json_string(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;

	buf_reserve(b, n + 2);
	buf_append_char(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char) s[i];
		char esc[6];
		size_t elen = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		/* Flush the run of plain bytes before the one to escape. */
		buf_append(b, s + run, i - run);
		run = i + 1;
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
		}
		buf_append(b, esc, elen);
	}
	buf_append(b, s + run, n - run);
	buf_append_char(b, '"');
}

void
buf_reset(struct buf *b, size_t keep)
{
	if (b->cap > keep) {
		buf_free(b);
		return;
	}
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void
buf_free(struct buf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
buf_append_printable(struct buf *b, const char *s, size_t n,
					 bool keep_newline)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char) s[i];

		if ((c < 0x20 && !(c == '\n' && keep_newline)) || c == 0x7f)
			buf_appendf(b, "\\x%02x", c);
		else
			buf_append_char(b, (char) c);
	}
}

