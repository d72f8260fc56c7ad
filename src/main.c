/* main.c: the walpipe command line: parses the subcommand and dispatches. */
#include "walpipe/commands.h"
#include "walpipe/version.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>
#if WALPIPE_HAVE_KAFKA
#include <librdkafka/rdkafka.h>
#endif

/* Exit codes shared by every subcommand. */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,	/* the command ran and failed, or input was invalid */
	EXIT_USAGE = 2, /* bad command line, or the command could not run */
};

struct command {
	const char *name;
	const char *summary;
	int (*fn)(int argc, char **argv); /* NULL: not implemented yet */
};

static const struct command commands[] = {
	{"run", "stream the source slot into the analytics database", cmd_run},
	{"stream", "print decoded changes of a slot as JSON lines", cmd_stream},
	{"check", "validate a configuration file", cmd_check},
	{"status", "show slot, checkpoint, lag and dead letters of a source",
	 cmd_status},
	{"snapshot", "copy existing rows of a table through its mapping", cmd_snapshot},
	{"dlq", "list, retry or resolve dead letters", cmd_dlq},
	{"init", "write a configuration that mirrors a live database", cmd_init},
	{"plan", "show what a reload with another file would change", cmd_plan},
};

static void
print_version(void)
{
	int pqv = PQlibVersion();

	printf("walpipe %s\n", WALPIPE_VERSION);
	printf("  libpq %d.%d\n", pqv / 10000, pqv % 10000);
	printf("  libyaml %s\n", yaml_get_version_string());
#if WALPIPE_HAVE_KAFKA
	printf("  librdkafka %s\n", rd_kafka_version_str());
#else
	printf("  librdkafka: not built in (-DWALPIPE_KAFKA=OFF)\n");
#endif
	printf("  systemd notify: %s\n", WALPIPE_HAVE_SYSTEMD ? "yes" : "no");
}

static void
print_help(FILE *out)
{
	fprintf(out,
			"walpipe %s: PostgreSQL change data capture into an analytics "
			"database\n\n"
			"Usage:\n"
			"  walpipe COMMAND [OPTIONS]\n"
			"  walpipe --version | --help\n\n"
			"Commands:\n",
			WALPIPE_VERSION);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s%s\n", commands[i].name, commands[i].summary,
				commands[i].fn ? "" : " (not implemented yet)");
	fprintf(out, "\nRun 'walpipe COMMAND --help' for the options of a "
				 "command.\n");
}

int
main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2) {
		print_help(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[1];
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
		print_version();
		return EXIT_OK;
	}
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
		strcmp(cmd, "help") == 0) {
		print_help(stdout);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(cmd, commands[i].name) != 0)
			continue;
		if (commands[i].fn == NULL) {
			fprintf(stderr, "walpipe: command \"%s\" is not implemented yet\n",
					cmd);
			return EXIT_USAGE;
		}
		return commands[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr,
			"walpipe: unknown command \"%s\"\n"
			"Run 'walpipe --help' for the list of commands.\n",
			cmd);
	return EXIT_USAGE;
}
