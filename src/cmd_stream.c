/* cmd_stream.c: `walpipe stream`, a pg_recvlogical for wal2json and pgoutput: prints decoded changes. */
#include "walpipe/buf.h"
#include "walpipe/changefmt.h"
#include "walpipe/commands.h"
#include "walpipe/ident.h"
#include "walpipe/log.h"
#include "walpipe/pgoutput.h"
#include "walpipe/repl.h"
#include "walpipe/wal2json.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Signal flags: the only globals the house style allows. */
static volatile sig_atomic_t stop_requested = 0;

static void
on_stop_signal(int sig)
{
	(void) sig;
	if (stop_requested) {
		/* A second signal: leave at once; the slot keeps all unconfirmed. */
		_exit(130);
	}
	stop_requested = 1;
}

static void
stream_usage(FILE *out)
{
	fprintf(out,
			"Usage: walpipe stream --source CONNINFO --slot NAME [OPTIONS]\n\n"
			"Print the changes of a wal2json or pgoutput logical replication "
			"slot\nas wal2json's JSON lines, confirming each transaction to "
			"the slot once\nit is written to stdout.\n\n"
			"Options:\n"
			"  -d, --source CONNINFO   source database (libpq conninfo or "
			"URI)\n"
			"  -S, --slot NAME         replication slot\n"
			"      --create-slot       create the slot if it does not "
			"exist\n"
			"      --plugin NAME       the slot's output plugin: wal2json "
			"(default) or\n"
			"                          pgoutput\n"
			"  -P, --publication NAME  pgoutput: the publication to stream "
			"(required)\n"
			"      --start LSN         start at LSN (default: the slot's "
			"position)\n"
			"  -E, --endpos LSN        exit 0 once the stream reaches LSN\n"
			"  -t, --tables LIST       wal2json: only these tables, e.g.\n"
			"                          'public.users,public.\"User\"' "
			"(names as in\n"
			"                          the configuration)\n"
			"      --prefixes LIST     wal2json: only logical messages with "
			"these prefixes\n"
			"      --raw               print wal2json's messages as "
			"received\n"
			"      --no-types          do not ask wal2json for column types\n"
			"      --no-loop           exit on a lost connection instead of "
			"retrying\n"
			"  -s, --status-interval SECONDS  status update period (default "
			"10)\n"
			"  -h, --help              show this help\n");
}

/* The long options without a short one. */
enum { OPT_CREATE = 256, OPT_START, OPT_PREFIXES, OPT_RAW, OPT_NOTYPES,
	   OPT_NOLOOP, OPT_PLUGIN };

struct stream_opts {
	struct repl_config repl;
	lsn_t endpos;
	bool raw;
	bool loop;
	struct buf tables; /* --tables escaped for add-tables */
};

/* Apply option c (optarg) to o: 0 to go on, -1 for --help (printed),
 * 2 for a bad value (printed). */
static int
stream_parse_opt(int c, struct stream_opts *o)
{
	char err[256];

	switch (c) {
	case 'd': o->repl.conninfo = optarg; break;
	case 'S': o->repl.slot = optarg; break;
	case OPT_CREATE: o->repl.create_slot = true; break;
	case OPT_PLUGIN:
		if (strcmp(optarg, "pgoutput") != 0 &&
			strcmp(optarg, "wal2json") != 0) {
			fprintf(stderr,
					"walpipe stream: invalid --plugin \"%s\": expected "
					"wal2json or pgoutput\n",
					optarg);
			return 2;
		}
		o->repl.pgoutput = strcmp(optarg, "pgoutput") == 0;
		break;
	case 'P': o->repl.publication = optarg; break;
	case OPT_START:
		if (!lsn_parse(optarg, &o->repl.start, err, sizeof(err))) {
			fprintf(stderr, "walpipe stream: --start: %s\n", err);
			return 2;
		}
		break;
	case 'E':
		if (!lsn_parse(optarg, &o->endpos, err, sizeof(err))) {
			fprintf(stderr, "walpipe stream: --endpos: %s\n", err);
			return 2;
		}
		break;
	case 't':
		/* The configuration's notation, escaped as wal2json reads
		 * add-tables (ident_append_w2j). */
		buf_reset(&o->tables, 0);
		if (!ident_w2j_list(optarg, &o->tables, err, sizeof(err))) {
			fprintf(stderr, "walpipe stream: --tables: %s\n", err);
			buf_free(&o->tables);
			return 2;
		}
		o->repl.tables = o->tables.data;
		break;
	case OPT_PREFIXES: o->repl.prefixes = optarg; break;
	case OPT_RAW: o->raw = true; break;
	case OPT_NOTYPES: o->repl.include_types = false; break;
	case OPT_NOLOOP: o->loop = false; break;
	case 's': {
		char *end;
		double secs = strtod(optarg, &end);

		if (*end || secs < 0.1 || secs > 3600) {
			fprintf(stderr,
					"walpipe stream: invalid --status-interval \"%s\": "
					"expected seconds between 0.1 and 3600\n",
					optarg);
			return 2;
		}
		o->repl.status_interval_ms = (int) (secs * 1000);
		break;
	}
	case 'h': stream_usage(stdout); return -1;
	default:
		fprintf(stderr, "Try 'walpipe stream --help'.\n");
		return 2;
	}
	return 0;
}

/* The options of the other plugin than --plugin's: refused, since they
 * would silently do nothing.  0 or 2 (printed). */
static int
stream_check_plugin(const struct stream_opts *o)
{
	const char *other = NULL;

	if (o->repl.pgoutput && !o->repl.publication) {
		fprintf(stderr, "walpipe stream: --plugin pgoutput needs "
						"--publication\n");
		return 2;
	}
	if (o->repl.pgoutput)
		other = o->repl.tables	   ? "--tables (the publication chooses "
									 "the tables)"
				: o->repl.prefixes ? "--prefixes"
				: o->raw		   ? "--raw (pgoutput's messages are binary)"
								   : NULL;
	else if (o->repl.publication)
		other = "--publication";
	if (other == NULL)
		return 0;
	fprintf(stderr, "walpipe stream: %s is not for plugin %s\n", other,
			repl_plugin_name(o->repl.pgoutput));
	return 2;
}

/* Parse argv into o (o->tables: the caller frees).  0 to go on, -1 after
 * --help, 2 on a usage error (printed). */
static int
stream_parse_args(int argc, char **argv, struct stream_opts *o)
{
	static const struct option longopts[] = {
		{"source", required_argument, NULL, 'd'},
		{"slot", required_argument, NULL, 'S'},
		{"create-slot", no_argument, NULL, OPT_CREATE},
		{"plugin", required_argument, NULL, OPT_PLUGIN},
		{"publication", required_argument, NULL, 'P'},
		{"start", required_argument, NULL, OPT_START},
		{"endpos", required_argument, NULL, 'E'},
		{"tables", required_argument, NULL, 't'},
		{"prefixes", required_argument, NULL, OPT_PREFIXES},
		{"raw", no_argument, NULL, OPT_RAW},
		{"no-types", no_argument, NULL, OPT_NOTYPES},
		{"no-loop", no_argument, NULL, OPT_NOLOOP},
		{"status-interval", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c, rc;

	memset(o, 0, sizeof(*o));
	o->repl.include_types = true;
	o->repl.status_interval_ms = 10000;
	o->loop = true;
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:S:E:t:s:hP:", longopts, NULL)) != -1)
		if ((rc = stream_parse_opt(c, o)) != 0)
			return rc;
	if (optind < argc) {
		fprintf(stderr, "walpipe stream: unexpected argument \"%s\"\n",
				argv[optind]);
		return 2;
	}
	if (!o->repl.conninfo || !o->repl.slot) {
		fprintf(stderr, "walpipe stream: --source and --slot are required\n"
						"Try 'walpipe stream --help'.\n");
		return 2;
	}
	return stream_check_plugin(o);
}

/* What one session of streaming ended with. */
enum stream_end {
	STREAM_DONE,  /* endpos reached or stop requested */
	STREAM_RETRY, /* connection lost: reconnect */
	STREAM_FAIL,
	STREAM_MORE, /* inside a session only: go on */
};

/* The decoder of the slot's plugin. */
struct stream_dec {
	struct w2j_decoder *w2j;
	struct pgo_decoder *pgo; /* --plugin pgoutput */
};

/* One session's place in the stream. */
struct stream_state {
	struct repl_stream *s;
	lsn_t *position; /* see stream_session */
	bool in_txn;	 /* between begin and commit */
	bool skip_txn;	 /* the open transaction was written before */
};

/*
 * Open the slot for a session that resumes at *position (LSN_INVALID:
 * where --start or the slot says, which *position then takes), and log
 * where it streams from.  NULL (logged) with *end set.
 */
static struct repl_stream *
stream_open(const struct stream_opts *o, lsn_t *position,
			struct stream_dec *dec, enum stream_end *end)
{
	struct repl_config cfg = o->repl;
	struct repl_stream *s;
	struct repl_info info;
	enum repl_result rc;
	char err[1024];
	char l1[LSN_STRLEN], l2[LSN_STRLEN];

	if (*position != LSN_INVALID)
		cfg.start = *position;
	/* Decoded output shows NaN and the infinities exactly where the
	 * server's wal2json can send them; --raw shows wal2json as asked. */
	cfg.numbers_as_strings = !o->raw;
	s = repl_open(&cfg, &info, &rc, err, sizeof(err));
	if (s == NULL) {
		wp_log(LOG_ERROR, "%s", err);
		*end = rc == REPL_RETRY ? STREAM_RETRY : STREAM_FAIL;
		return NULL;
	}
	w2j_decoder_numbers_as_strings(dec->w2j, info.numbers_as_strings,
								   cfg.include_types);
	pgo_decoder_keep_types(dec->pgo, cfg.include_types);
	if (!o->raw && !info.numbers_as_strings && !cfg.pgoutput)
		wp_log(LOG_INFO, "the source's wal2json (before 2.6) sends NaN, "
						 "Infinity and -Infinity of real, double precision "
						 "and numeric columns as null");
	if (info.slot_created)
		wp_log(LOG_INFO, "created replication slot \"%s\" at %s", cfg.slot,
			   lsn_format(info.confirmed_flush, l1));
	wp_log(LOG_INFO, "streaming slot \"%s\" from %s (server at %s)", cfg.slot,
		   lsn_format(cfg.start ? cfg.start : info.confirmed_flush, l1),
		   lsn_format(info.server_lsn, l2));
	if (*position == LSN_INVALID)
		*position = cfg.start ? cfg.start : info.confirmed_flush;
	return s;
}

/* Print one change: as received (--raw) or as walpipe's JSON. */
static void
stream_print(const struct stream_opts *o, const struct repl_data *d,
			 const struct w2j_change *c, struct buf *line)
{
	if (o->raw) {
		fwrite(d->payload, 1, d->len, stdout);
	} else {
		buf_reset(line, 1 << 20);
		changefmt_json(line, c);
		fwrite(line->data, 1, line->len, stdout);
	}
	putchar('\n');
}

/* c ends a transaction, or is a message outside one: once it has left
 * the process, confirm it. */
static enum stream_end
stream_confirm(const struct stream_opts *o, struct stream_state *st,
			   const struct w2j_change *c)
{
	/* A message's lsn is the end of its record, where a commit record
	 * may begin: confirming one past it would skip that transaction. */
	lsn_t done = c->action == W2J_COMMIT ? c->nextlsn : c->lsn;

	/* Confirm only what has really left the process. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		wp_log(LOG_ERROR, "could not write to standard output");
		return STREAM_FAIL;
	}
	st->in_txn = st->skip_txn = false;
	if (done > *st->position)
		*st->position = done;
	repl_confirm(st->s, *st->position, true);
	if (o->endpos && c->lsn >= o->endpos)
		return STREAM_DONE;
	return STREAM_MORE;
}

/* Print one decoded change c of message d, confirming what it ends. */
static enum stream_end
stream_change(const struct stream_opts *o, struct stream_state *st,
			  const struct repl_data *d, const struct w2j_change *c,
			  struct buf *line)
{
	if (c->action == W2J_BEGIN) {
		if (o->endpos && c->lsn > o->endpos)
			return STREAM_DONE;
		st->in_txn = true;
		/* Already written before a reconnect: the server replays whole
		 * transactions, skip it.  (pgoutput's B says its commit LSN + 1:
		 * at or below a position exactly when its end is, pgoutput.h.) */
		st->skip_txn =
			c->nextlsn != LSN_INVALID && c->nextlsn <= *st->position;
	}
	if (!st->skip_txn)
		stream_print(o, d, c, line);
	if (c->action == W2J_COMMIT || (c->action == W2J_MESSAGE && !st->in_txn))
		return stream_confirm(o, st, c);
	return STREAM_MORE;
}

/* Receive, decode and print one message (or time out idle). */
static enum stream_end
stream_step(const struct stream_opts *o, struct stream_state *st,
			struct stream_dec *dec, struct buf *line)
{
	struct repl_data d;
	struct w2j_change c;
	char err[1024], l1[LSN_STRLEN];
	enum repl_result rc = repl_next(st->s, &d, 1000, err, sizeof(err));
	enum stream_end end = STREAM_MORE;
	int n;

	if (rc == REPL_TIMEOUT) {
		/* Idle at or past endpos: nothing more can come before it. */
		if (o->endpos && !st->in_txn &&
			repl_keepalive_end(st->s) >= o->endpos)
			return STREAM_DONE;
		return STREAM_MORE;
	}
	if (rc != REPL_OK) {
		wp_log(LOG_ERROR, "%s", err);
		return rc == REPL_RETRY ? STREAM_RETRY : STREAM_FAIL;
	}
	if (!o->repl.pgoutput)
		n = w2j_decode(dec->w2j, d.payload, d.len, &c, err, sizeof(err))
				? 1
				: -1;
	else
		n = pgo_decode(dec->pgo, d.data_start, d.payload, d.len, err,
					   sizeof(err));
	if (n < 0) {
		wp_log(LOG_ERROR, "could not decode change at %s: %s",
			   lsn_format(d.data_start, l1), err);
		return STREAM_FAIL;
	}
	for (int i = 0; i < n && end == STREAM_MORE; i++) {
		if (o->repl.pgoutput)
			pgo_decoder_change(dec->pgo, (size_t) i, &c);
		end = stream_change(o, st, &d, &c, line);
	}
	return end;
}

/*
 * Stream until done.  *position is the end of the last transaction
 * written and confirmed; a reconnect asks to start there, so nothing
 * printed is printed again and nothing unprinted is skipped.
 */
static enum stream_end
stream_session(struct stream_opts *o, lsn_t *position,
			   struct stream_dec *dec, struct buf *line)
{
	struct stream_state st = {NULL, position, false, false};
	enum stream_end end = STREAM_FAIL;
	char l1[LSN_STRLEN];

	st.s = stream_open(o, position, dec, &end);
	if (st.s == NULL)
		return end;
	end = STREAM_MORE;
	while (!stop_requested && end == STREAM_MORE)
		end = stream_step(o, &st, dec, line);
	if (stop_requested)
		end = STREAM_DONE;
	repl_close(st.s); /* sends the final status update */
	if (end == STREAM_DONE)
		wp_log(LOG_INFO, "stopped at %s", lsn_format(*position, l1));
	return end;
}

int
cmd_stream(int argc, char **argv)
{
	static char outbuf[1 << 16];
	struct stream_opts o;
	struct stream_dec dec;
	struct buf line = BUF_INIT;
	lsn_t position = LSN_INVALID;
	enum stream_end end;
	int backoff_ms = 500;
	int rc = stream_parse_args(argc, argv, &o);

	if (rc != 0) {
		buf_free(&o.tables);
		return rc < 0 ? 0 : rc;
	}

	cmd_signals_install(on_stop_signal, NULL);
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));

	dec.w2j = w2j_decoder_new();
	dec.pgo = pgo_decoder_new();
	for (;;) {
		end = stream_session(&o, &position, &dec, &line);
		if (end != STREAM_RETRY || !o.loop || stop_requested)
			break;
		wp_log(LOG_INFO, "reconnecting in %d ms", backoff_ms);
		usleep((useconds_t) backoff_ms * 1000);
		if (backoff_ms < 30000)
			backoff_ms *= 2;
	}
	w2j_decoder_free(dec.w2j);
	pgo_decoder_free(dec.pgo);
	buf_free(&line);
	buf_free(&o.tables);
	if (end == STREAM_DONE || (stop_requested && end == STREAM_RETRY))
		return 0;
	return 1;
}
