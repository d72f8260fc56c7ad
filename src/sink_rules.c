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
					 size_t n, size_t nmapped, char *errbuf, size_t errlen)
{
	struct buf rule = BUF_INIT, from = BUF_INIT, to = BUF_INIT;
	const char *params[1] = {s->cfg.source};
	enum step st = sink_exec(s, "BEGIN", errbuf, errlen);

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
		buf_reset(&from, 256);
		buf_reset(&to, 256);
		map_rule_describe(&rule, &rules[i]);
		buf_append_str(&to, ""); /* '' for mode none */
		ident_append(&from, rules[i].from_schema);
		buf_append_char(&from, '.');
		ident_append(&from, rules[i].from_table);
		if (rules[i].to_schema) {
			ident_append(&to, rules[i].to_schema);
			buf_append_char(&to, '.');
			ident_append(&to, rules[i].to_table);
		}
		p[0] = s->cfg.source;
		p[1] = from.data;
		p[2] = to.data;
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
	buf_free(&from);
	buf_free(&to);
	return sink_result_of(st);
}
