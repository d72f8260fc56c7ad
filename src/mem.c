/* mem.c: allocation wrappers that abort on out-of-memory. */
#include "walpipe/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
mem_die(size_t size)
{
	fprintf(stderr, "walpipe: out of memory (could not allocate %zu bytes)\n",
			size);
	abort();
}

void *
wp_malloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		mem_die(size);
	return p;
}

void *
wp_calloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (p == NULL)
		mem_die(nmemb * size);
	return p;
}

void *
wp_realloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);

	if (p == NULL)
		mem_die(size);
	return p;
}

char *
wp_strdup(const char *s)
{
	return wp_strndup(s, strlen(s));
}

char *
wp_strndup(const char *s, size_t n)
{
	char *p = wp_malloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}
