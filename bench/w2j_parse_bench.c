/* w2j_parse_bench.c: wal2json message parsing cost: walpipe's decoder vs yajl vs jansson. */
/*
 * Usage: w2j_parse_bench FILE [ROUNDS]
 * FILE holds wal2json v2 messages, one per line (captured from a real
 * server by bench/parse.sh).  Each parser extracts what walpipe needs from
 * every message: the action, schema, table and every column's name and
 * value text.  Prints ns per message for each.
 *
 * yajl is a streaming (SAX) parser that hands numbers over as text;
 * jansson builds a DOM and converts numbers to integers or doubles, which
 * loses precision (a numeric(38,10) or a bigint beyond 2^53 does not
 * survive), so it is measured for speed only.
 */
#include "walpipe/wal2json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yajl/yajl_parse.h>

struct lines {
	char **v;
	size_t *len;
	size_t n;
	size_t bytes;
};

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec * 1e9 + (double) ts.tv_nsec;
}

static void
read_lines(const char *path, struct lines *l)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f) {
		perror(path);
		exit(2);
	}
	memset(l, 0, sizeof(*l));
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		l->v = realloc(l->v, (l->n + 1) * sizeof(char *));
		l->len = realloc(l->len, (l->n + 1) * sizeof(size_t));
		l->v[l->n] = strdup(line);
		l->len[l->n++] = (size_t) n;
		l->bytes += (size_t) n;
	}
	free(line);
	fclose(f);
}

/* A sink for extracted text, so no parser's work is optimised away. */
static unsigned long checksum;

static void
take(const char *s, size_t n)
{
	checksum += n + (n ? (unsigned char) s[0] : 0);
}

/* ---- walpipe */
static void
run_walpipe(const struct lines *l)
{
	static struct w2j_decoder *d;
	struct w2j_change c;
	char err[256];

	if (!d)
		d = w2j_decoder_new();
	for (size_t i = 0; i < l->n; i++) {
		if (!w2j_decode(d, l->v[i], l->len[i], &c, err, sizeof(err))) {
			fprintf(stderr, "walpipe: %s\n", err);
			exit(1);
		}
		take((const char *) &c.action, 1);
		for (size_t k = 0; k < c.ncolumns; k++) {
			take(c.columns[k].name, c.columns[k].name_len);
			if (c.columns[k].value)
				take(c.columns[k].value, c.columns[k].value_len);
		}
	}
}

/* ---- yajl: callbacks copy strings and number texts, as walpipe must */
static char ybuf[1 << 20];
static size_t ylen;

static int
y_str(void *ctx, const unsigned char *s, size_t n)
{
	(void) ctx;
	if (ylen + n < sizeof(ybuf)) {
		memcpy(ybuf + ylen, s, n);
		ylen += n;
	}
	take((const char *) s, n);
	return 1;
}

static int
y_num(void *ctx, const char *s, size_t n)
{
	return y_str(ctx, (const unsigned char *) s, n);
}

static int
y_null(void *ctx)
{
	(void) ctx;
	return 1;
}

static int
y_bool(void *ctx, int b)
{
	(void) ctx;
	(void) b;
	return 1;
}

static int
y_start(void *ctx)
{
	(void) ctx;
	return 1;
}

static int
y_end(void *ctx)
{
	(void) ctx;
	return 1;
}

static const yajl_callbacks ycb = {
	y_null, y_bool, NULL, NULL, y_num, y_str,
	y_start, y_str, y_end, y_start, y_end,
};

static void
run_yajl(const struct lines *l)
{
	for (size_t i = 0; i < l->n; i++) {
		yajl_handle h = yajl_alloc(&ycb, NULL, NULL);

		ylen = 0;
		if (yajl_parse(h, (const unsigned char *) l->v[i], l->len[i]) !=
				yajl_status_ok ||
			yajl_complete_parse(h) != yajl_status_ok) {
			fprintf(stderr, "yajl: parse error\n");
			exit(1);
		}
		yajl_free(h);
	}
}

/* ---- jansson: DOM, then walk to the same fields */
static void
run_jansson(const struct lines *l)
{
	for (size_t i = 0; i < l->n; i++) {
		json_error_t e;
		json_t *root = json_loadb(l->v[i], l->len[i], 0, &e);
		json_t *cols, *col;
		size_t k;

		if (!root) {
			fprintf(stderr, "jansson: %s\n", e.text);
			exit(1);
		}
		take(json_string_value(json_object_get(root, "action")), 1);
		cols = json_object_get(root, "columns");
		json_array_foreach(cols, k, col) {
			json_t *v = json_object_get(col, "value");
			const char *name = json_string_value(json_object_get(col, "name"));

			take(name, strlen(name));
			if (json_is_string(v))
				take(json_string_value(v), json_string_length(v));
			else if (json_is_number(v)) {
				char num[64];
				int n = snprintf(num, sizeof(num), "%.17g", json_number_value(v));

				take(num, (size_t) n);
			}
		}
		json_decref(root);
	}
}

static double
measure(void (*fn)(const struct lines *), const struct lines *l, int rounds)
{
	double best = 1e300;

	for (int r = 0; r < rounds; r++) {
		double t0 = now_ns();

		fn(l);
		t0 = now_ns() - t0;
		if (t0 < best)
			best = t0;
	}
	return best / (double) l->n;
}

int
main(int argc, char **argv)
{
	struct lines l;
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	double w, y, j;

	if (argc < 2) {
		fprintf(stderr, "usage: w2j_parse_bench FILE [ROUNDS]\n");
		return 2;
	}
	read_lines(argv[1], &l);
	w = measure(run_walpipe, &l, rounds);
	y = measure(run_yajl, &l, rounds);
	j = measure(run_jansson, &l, rounds);
	printf("| parser | ns/message | messages/s | relative |\n");
	printf("|---|---|---|---|\n");
	printf("| walpipe (hand-written, exact text) | %.0f | %.0f | 1.00 |\n", w,
		   1e9 / w);
	printf("| yajl 2 (streaming, numbers as text) | %.0f | %.0f | %.2f |\n", y,
		   1e9 / y, y / w);
	printf("| jansson (DOM, numbers to double) | %.0f | %.0f | %.2f |\n", j,
		   1e9 / j, j / w);
	printf("\n%zu messages, %.1f MB, best of %d rounds (checksum %lu)\n", l.n,
		   (double) l.bytes / 1e6, rounds, checksum);
	return 0;
}
