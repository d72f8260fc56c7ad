/* mem.h: allocation wrappers that abort on out-of-memory. */
#ifndef WALPIPE_MEM_H
#define WALPIPE_MEM_H

#include <stddef.h>

/*
 * These never return NULL: on allocation failure they print one line to
 * stderr and abort(), as pg_malloc and zmalloc do.  A daemon that cannot
 * allocate a few bytes cannot make progress safely; the slot still holds
 * every unconfirmed change, so nothing is lost by dying.
 *
 * wp_malloc(0) and wp_realloc(p, 0) return a valid, unique pointer.
 * Free everything with free().
 */
void *wp_malloc(size_t size);
void *wp_calloc(size_t nmemb, size_t size);
void *wp_realloc(void *ptr, size_t size);
char *wp_strdup(const char *s);
char *wp_strndup(const char *s, size_t n);

#endif
