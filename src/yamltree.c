/* yamltree.c: libyaml's events folded into a tree of nodes with positions. */
#include "yamltree.h"

#include "walpipe/buf.h"
#include "walpipe/mem.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define YNODE_MAXDEPTH 64

/* The tree being built: the open collections, innermost last. */
struct builder {
	struct ynode *stack[YNODE_MAXDEPTH];
	int depth;
	struct ynode *root;
	struct ynode_error *err;
};

void
ynode_free(struct ynode *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		ynode_free(n->kids[i]);
	free(n->kids);
	free(n->value);
	free(n);
}

static void
ynode_add(struct ynode *parent, struct ynode *kid)
{
	parent->kids = wp_realloc(parent->kids,
							  (parent->nkids + 1) * sizeof(*parent->kids));
	parent->kids[parent->nkids++] = kid;
}

static void
builder_fail(struct builder *b, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
builder_fail(struct builder *b, int line, int col, const char *fmt, ...)
{
	struct buf m = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vappendf(&m, fmt, ap);
	va_end(ap);
	b->err->line = line;
	b->err->col = col;
	b->err->msg = m.data;
}

static void
builder_parse_error(struct builder *b, const yaml_parser_t *p)
{
	if (p->context)
		builder_fail(b, (int) p->problem_mark.line + 1,
					 (int) p->problem_mark.column + 1,
					 "invalid YAML: %s %s started at line %d, column %d",
					 p->problem, p->context, (int) p->context_mark.line + 1,
					 (int) p->context_mark.column + 1);
	else
		builder_fail(b, (int) p->problem_mark.line + 1,
					 (int) p->problem_mark.column + 1, "invalid YAML: %s",
					 p->problem);
}

static struct ynode *
node_of_event(const yaml_event_t *ev)
{
	struct ynode *n = wp_calloc(1, sizeof(*n));

	n->line = (int) ev->start_mark.line + 1;
	n->col = (int) ev->start_mark.column + 1;
	if (ev->type == YAML_SCALAR_EVENT) {
		n->kind = YNODE_SCALAR;
		n->value = wp_strndup((const char *) ev->data.scalar.value,
							  ev->data.scalar.length);
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	} else {
		n->kind = ev->type == YAML_SEQUENCE_START_EVENT ? YNODE_SEQ
														: YNODE_MAP;
	}
	return n;
}

/* Hang a new node into the open collection (or make it the root) and
 * open it if it is one.  False: refused, error set. */
static bool
builder_place(struct builder *b, struct ynode *n)
{
	struct ynode *parent = b->depth > 0 ? b->stack[b->depth - 1] : NULL;

	/* Every reader of the tree takes a mapping's keys for scalars:
	 * refuse any other key here, once. */
	if (parent && parent->kind == YNODE_MAP && parent->nkids % 2 == 0 &&
		n->kind != YNODE_SCALAR) {
		builder_fail(b, n->line, n->col,
					 "a mapping key must be a plain name, not %s",
					 n->kind == YNODE_SEQ ? "a list" : "a mapping");
		ynode_free(n);
		return false;
	}
	if (parent)
		ynode_add(parent, n);
	else
		b->root = n;
	if (n->kind == YNODE_SCALAR)
		return true;
	if (b->depth >= YNODE_MAXDEPTH - 1) {
		builder_fail(b, n->line, n->col, "nesting too deep");
		return false;
	}
	b->stack[b->depth++] = n;
	return true;
}

/* One event into the tree.  False: stop (the end, or an error set). */
static bool
builder_event(struct builder *b, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_STREAM_END_EVENT:
		return false;
	case YAML_DOCUMENT_START_EVENT:
		if (b->root) {
			builder_fail(b, (int) ev->start_mark.line + 1,
						 (int) ev->start_mark.column + 1,
						 "more than one YAML document in the file");
			return false;
		}
		return true;
	case YAML_ALIAS_EVENT:
		builder_fail(b, (int) ev->start_mark.line + 1,
					 (int) ev->start_mark.column + 1,
					 "YAML aliases are not supported");
		return false;
	case YAML_SCALAR_EVENT:
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		return builder_place(b, node_of_event(ev));
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		b->depth--;
		return true;
	default:
		return true;
	}
}

struct ynode *
ynode_parse(const char *text, size_t len, struct ynode_error *err)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	struct builder b;
	bool more = true;

	memset(&b, 0, sizeof(b));
	memset(err, 0, sizeof(*err));
	b.err = err;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *) text, len);
	while (more) {
		if (!yaml_parser_parse(&parser, &ev)) {
			builder_parse_error(&b, &parser);
			break;
		}
		more = builder_event(&b, &ev);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	if (err->msg) {
		ynode_free(b.root);
		return NULL;
	}
	return b.root;
}

const struct ynode *
ynode_get(const struct ynode *m, const char *key)
{
	if (m == NULL || m->kind != YNODE_MAP)
		return NULL;
	for (size_t i = 0; i + 1 < m->nkids; i += 2)
		if (m->kids[i]->kind == YNODE_SCALAR &&
			strcmp(m->kids[i]->value, key) == 0)
			return m->kids[i + 1];
	return NULL;
}

bool
ynode_is_null(const struct ynode *n)
{
	return n->kind == YNODE_SCALAR && n->plain &&
		   (n->value[0] == '\0' || strcmp(n->value, "null") == 0 ||
			strcmp(n->value, "~") == 0);
}

const char *
ynode_kind_name(const struct ynode *n)
{
	return n->kind == YNODE_MAP	  ? "a mapping"
		   : n->kind == YNODE_SEQ ? "a list"
								  : "a scalar";
}
