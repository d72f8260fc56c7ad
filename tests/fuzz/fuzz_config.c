/* fuzz_config.c: libFuzzer target for the YAML configuration loader. */
#include "walpipe/config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * A file either loads or gives at least one error, each in the form
 * "NAME:LINE:COL: ..." or "NAME: ..."; a loaded one yields its wal2json
 * table list.  LeakSanitizer checks every path
 * frees what it took.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_errors errs;
	struct wp_config *cfg;

	memset(&errs, 0, sizeof(errs));
	cfg = config_load_string("fuzz.yaml", (const char *) data, size, &errs);
	if (cfg == NULL) {
		if (errs.n == 0)
			abort(); /* refused without saying why */
		for (size_t i = 0; i < errs.n; i++)
			if (strncmp(errs.msg[i], "fuzz.yaml:", 10) != 0)
				abort();
	} else {
		char *t = config_tables_list(cfg);

		free(t);
	}
	config_free(cfg);
	config_errors_free(&errs);
	return 0;
}
