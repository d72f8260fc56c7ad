/* sink_rules.c: the rules a source applies, recorded for `walpipe plan`. */
#include "walpipe/sink_pg.h"

#include "sink_pg_int.h"
#include "walpipe/buf.h"
#include "walpipe/ident.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

enum sink_result
sink_pg_record_rules(struct sink_pg *s, const struct map_rule *rules,
					 size_t n, size_t nmapped, bool backfills, char *errbuf,
					 size_t errlen)
{
	struct buf rule = BUF_INIT;
	char from[IDENT_QUALIFIED_MAX], to[IDENT_QUALIFIED_MAX];
	const char *params[1] = {s->cfg.source};
	enum step st = sink_exec(s, "BEGIN", errbuf, errlen);

	for (size_t i = 0; backfills && st == STEP_OK && i < nmapped; i++) {
		const struct map_rule *r = &rules[i];

		if (r->mode != MAP_MODE_UPSERT && r->mode != MAP_MODE_APPEND)
			continue;
		buf_reset(&rule, 4096);
		map_rule_describe(&rule, r);
		map_rule_tables(r, from, to, sizeof(from));
		st = backfill_register(s, from, to, rule.data,
							   r->mode == MAP_MODE_UPSERT, errbuf, errlen);
	}
	buf_reset(&s->q, 65536);
	buf_appendf(&s->q, "DELETE FROM %s.applied_rules WHERE source = $1",
				s->qschema);
	if (st == STEP_OK)
		st = sink_exec_params(s, "could not record the rules", 1, params,
							  NULL, errbuf, errlen);
	buf_reset(&s->q, 65536);
	buf_appendf(&s->q,
				"INSERT INTO %s.applied_rules (source, source_table, "
				"target, origin, rule) VALUES ($1, $2, $3, $4, $5) "
				"ON CONFLICT DO NOTHING",
				s->qschema);
	for (size_t i = 0; st == STEP_OK && i < n; i++) {
		const char *p[5];

		buf_reset(&rule, 4096);
		map_rule_describe(&rule, &rules[i]);
		map_rule_tables(&rules[i], from, to, sizeof(from));
		p[0] = s->cfg.source;
		p[1] = from;
		p[2] = to;
		p[3] = i < nmapped ? "mapping" : "mirror";
		p[4] = rule.data;
		st = sink_exec_params(s, "could not record the rules", 5, p, NULL,
							  errbuf, errlen);
	}
	if (st == STEP_OK)
		st = sink_exec(s, "COMMIT", errbuf, errlen);
	else
		PQclear(PQexec(s->conn, "ROLLBACK"));
	buf_free(&rule);
	return sink_result_of(st);
}
