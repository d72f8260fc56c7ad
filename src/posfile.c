/* posfile.c: the durable record of a Kafka-only source's position, beside its slot. */
#include "walpipe/posfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
posfile_read(const char *path, struct posfile_record *out, char *errbuf,
			 size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[256], lsn[64] = "";
	int version = 0, fields = 0;

	memset(out, 0, sizeof(*out));
	if (f == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(errbuf, errlen, "could not read position file \"%s\": %s",
				 path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "walpipe position %d", &version) == 1)
			continue;
		fields += sscanf(line, "system_id %31s", out->system_id) == 1;
		fields += sscanf(line, "timeline %d", &out->timeline) == 1;
		fields += sscanf(line, "slot %63s", out->slot) == 1;
		fields += sscanf(line, "lsn %63s", lsn) == 1;
	}
	fclose(f);
	if (version != 1 || fields != 4 || !lsn_parse(lsn, &out->lsn, NULL, 0)) {
		snprintf(errbuf, errlen,
				 "position file \"%s\" is malformed (expected walpipe "
				 "position 1 with system_id, timeline, slot and lsn)",
				 path);
		return -1;
	}
	return 1;
}

bool
posfile_write(const char *path, const struct posfile_record *r, char *errbuf,
			  size_t errlen)
{
	char tmp[4096], dir[4096], lsn[LSN_STRLEN], text[512];
	char *slash;
	int fd, n;
	bool ok = false;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	n = snprintf(text, sizeof(text),
				 "walpipe position 1\nsystem_id %s\ntimeline %d\nslot %s\n"
				 "lsn %s\n",
				 r->system_id, r->timeline, r->slot, lsn_format(r->lsn, lsn));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(errbuf, errlen, "could not write position file \"%s\": %s",
				 tmp, strerror(errno));
		return false;
	}
	if (write(fd, text, (size_t) n) != n || fsync(fd) != 0) {
		snprintf(errbuf, errlen, "could not write position file \"%s\": %s",
				 tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return false;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		snprintf(errbuf, errlen, "could not rename \"%s\" to \"%s\": %s",
				 tmp, path, strerror(errno));
		unlink(tmp);
		return false;
	}
	/* The rename is durable only once the directory is. */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		ok = fsync(fd) == 0;
		close(fd);
	}
	if (!ok)
		snprintf(errbuf, errlen, "could not sync directory \"%s\": %s", dir,
				 strerror(errno));
	return ok;
}
