/* fuzz_names.c: libFuzzer target for the name notation (ident.h), synchronous_standby_names and mirror patterns (mirror.h), with their round trips. */
#include "walpipe/buf.h"
#include "walpipe/ident.h"
#include "walpipe/mem.h"
#include "walpipe/mirror.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A name that parses reads back from its text form as the same name. */
static void
name_round_trip(const char *s)
{
	struct ident_name n, back;
	struct buf b = BUF_INIT;
	char err[256];

	if (!ident_parse(s, 1, 2, &n, err, sizeof(err)))
		return;
	for (int i = 0; i < n.nparts; i++) {
		if (i)
			buf_append_char(&b, '.');
		ident_append(&b, n.part[i]);
	}
	if (!ident_parse(b.data, n.nparts, n.nparts, &back, err, sizeof(err)))
		abort();
	for (int i = 0; i < n.nparts; i++)
		if (strcmp(n.part[i], back.part[i]) != 0)
			abort();
	ident_name_free(&back);
	if (n.nparts == 2) {
		buf_reset(&b, 0);
		ident_append_w2j(&b, n.part[0], n.part[1]);
	}
	ident_name_free(&n);
	buf_free(&b);
}

/* A pattern that parses reads back from its text form and matches what
 * it matched; an exact pattern matches its own parts. */
static void
pattern_round_trip(const char *s)
{
	struct mirror_pattern p, back;
	struct buf b = BUF_INIT;
	char err[256];

	if (!mirror_pattern_parse(s, &p, err, sizeof(err)))
		return;
	mirror_pattern_append(&b, &p);
	if (!mirror_pattern_parse(b.data, &back, err, sizeof(err)))
		abort();
	for (int i = 0; i < 2; i++)
		if (strcmp(p.part[i], back.part[i]) != 0 || p.glob[i] != back.glob[i])
			abort();
	if (!p.glob[0] && !p.glob[1] &&
		!mirror_pattern_match(&p, p.part[0], p.part[1]))
		abort();
	(void) mirror_pattern_match(&p, "public", s);
	buf_reset(&b, 0);
	mirror_pattern_append_w2j(&b, &p);
	mirror_pattern_free(&back);
	mirror_pattern_free(&p);
	buf_free(&b);
}

/* synchronous_standby_names: any text reads; a name written quoted
 * (its " doubled) is named, also inside a FIRST list. */
static void
syncnames(const char *s)
{
	struct buf q = BUF_INIT;

	(void) ident_syncnames_match(s, "walpipe");
	buf_append_str(&q, "FIRST 1 (a, \"");
	for (const char *c = s; *c; c++)
		buf_append_str(&q, *c == '"' ? "\"\"" : (char[2]) {*c, '\0'});
	buf_append_str(&q, "\")");
	if (!ident_syncnames_match(q.data, s))
		abort();
	buf_free(&q);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = wp_strndup((const char *) data, size);
	char *column = NULL, **keys = NULL, *arrow;
	size_t nkeys = 0;
	bool folded;
	char err[256];
	struct buf b = BUF_INIT;

	name_round_trip(s);
	pattern_round_trip(s);
	syncnames(s);
	if (ident_parse_path(s, &column, &keys, &nkeys, &folded, err,
						 sizeof(err))) {
		free(column);
		for (size_t i = 0; i < nkeys; i++)
			free(keys[i]);
		free(keys);
	}
	(void) ident_w2j_list(s, &b, err, sizeof(err));
	buf_free(&b);
	/* "from->to": a type change; the same text is always SAME. */
	if ((arrow = strstr(s, "->")) != NULL) {
		*arrow = '\0';
		(void) mirror_type_change(s, arrow + 2);
		if (mirror_type_change(s, s) != MIRROR_TYPE_SAME)
			abort();
	}
	free(s);
	return 0;
}
