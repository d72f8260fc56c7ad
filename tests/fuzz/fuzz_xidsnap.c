/* fuzz_xidsnap.c: libFuzzer target for the snapshot text parser and the xid arithmetic of backfill chunks (xidsnap.h). */
#include "walpipe/mem.h"
#include "walpipe/xidsnap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = wp_malloc(size + 1);
	struct xidsnap s;
	struct xidset set = {0};

	memcpy(text, data, size);
	text[size] = '\0';
	if (xidsnap_parse(text, &s)) {
		if (s.xmin > s.xmax)
			abort();
		for (size_t i = 0; i < s.nxip; i++)
			if (s.xip[i] < s.xmin || s.xip[i] >= s.xmax ||
				xidsnap_sees(&s, s.xip[i]))
				abort();
		/* Widening keeps the low 32 bits and lands within 2^31 of ref. */
		for (size_t i = 0; i + 4 <= size; i += 4) {
			uint32_t x;
			uint64_t w;

			memcpy(&x, data + i, 4);
			w = xidsnap_widen(x, s.xmax);
			if ((uint32_t) w != x)
				abort();
			if (s.xmax >= ((uint64_t) 1 << 32) &&
				(w > s.xmax ? w - s.xmax : s.xmax - w) > ((uint64_t) 1 << 31))
				abort();
			xidset_add(&set, x);
		}
		/* What a snapshot holds is pruned; what is left it does not. */
		xidset_prune(&set, &s);
		for (size_t i = 0; i < set.n; i++)
			if (xidsnap_sees(&s, xidsnap_widen(set.xid[i], s.xmax)))
				abort();
		xidset_free(&set);
		xidsnap_free(&s);
	}
	free(text);
	return 0;
}
