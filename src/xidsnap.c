/* xidsnap.c: source snapshots and transaction ids, for merging a backfill's chunks with the stream exactly. */
#include "walpipe/xidsnap.h"

#include "walpipe/mem.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* One unsigned decimal at *p (digits only), advancing *p. */
static bool
parse_xid(const char **p, uint64_t *out)
{
	char *end;

	if (!isdigit((unsigned char) **p))
		return false;
	errno = 0;
	*out = strtoull(*p, &end, 10);
	if (errno != 0)
		return false;
	*p = end;
	return true;
}

bool
xidsnap_parse(const char *text, struct xidsnap *out)
{
	const char *p = text;

	memset(out, 0, sizeof(*out));
	if (!parse_xid(&p, &out->xmin) || *p++ != ':' ||
		!parse_xid(&p, &out->xmax) || *p++ != ':' || out->xmin > out->xmax)
		return false;
	while (*p) {
		uint64_t x;

		if (!parse_xid(&p, &x) || x < out->xmin || x >= out->xmax ||
			(*p && *p++ != ',') || (*p == '\0' && p[-1] == ',')) {
			xidsnap_free(out);
			return false;
		}
		if (out->nxip % 16 == 0)
			out->xip = wp_realloc(out->xip,
								  (out->nxip + 16) * sizeof(*out->xip));
		out->xip[out->nxip++] = x;
	}
	return true;
}

void
xidsnap_free(struct xidsnap *s)
{
	if (s == NULL)
		return;
	free(s->xip);
	memset(s, 0, sizeof(*s));
}

uint64_t
xidsnap_widen(uint32_t xid, uint64_t ref)
{
	const uint64_t era = (uint64_t) 1 << 32, half = (uint64_t) 1 << 31;
	uint64_t full = (ref & ~(era - 1)) | xid;

	if (full > ref && full - ref > half && full >= era)
		full -= era;
	else if (full < ref && ref - full > half)
		full += era;
	return full;
}

bool
xidsnap_sees(const struct xidsnap *s, uint64_t xid)
{
	if (xid < s->xmin)
		return true;
	if (xid >= s->xmax)
		return false;
	for (size_t i = 0; i < s->nxip; i++)
		if (s->xip[i] == xid)
			return false;
	return true;
}

void
xidset_add(struct xidset *set, uint32_t xid)
{
	if (xid == 0)
		return;
	if (set->n == set->cap) {
		set->cap = set->cap ? set->cap * 2 : 1024;
		set->xid = wp_realloc(set->xid, set->cap * sizeof(*set->xid));
	}
	set->xid[set->n++] = xid;
}

uint32_t
xidset_prune(struct xidset *set, const struct xidsnap *s)
{
	uint32_t unseen = 0;
	size_t k = 0;

	for (size_t i = 0; i < set->n; i++) {
		if (xidsnap_sees(s, xidsnap_widen(set->xid[i], s->xmax)))
			continue;
		if (!unseen)
			unseen = set->xid[i];
		set->xid[k++] = set->xid[i];
	}
	set->n = k;
	return unseen;
}

void
xidset_free(struct xidset *set)
{
	free(set->xid);
	memset(set, 0, sizeof(*set));
}
