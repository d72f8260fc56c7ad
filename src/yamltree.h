/* yamltree.h: a YAML document as a tree of nodes with positions (private to config). */
#ifndef WALPIPE_YAMLTREE_H
#define WALPIPE_YAMLTREE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * libyaml's event stream folded into a tree, so the configuration loader
 * can look keys up in any order and still name the line and column of
 * each value.  Pure: no I/O, no logging.  Every node and string belongs
 * to the tree; ynode_free releases the whole tree at once.
 */
enum ynode_kind { YNODE_SCALAR, YNODE_SEQ, YNODE_MAP };

struct ynode {
	enum ynode_kind kind;
	char *value;		 /* SCALAR: its text; NULL otherwise */
	bool plain;			 /* unquoted scalar (so "null" and "~" mean null) */
	int line, col;		 /* 1-based */
	struct ynode **kids; /* SEQ: items; MAP: key, value, key, value... */
	size_t nkids;		 /* a MAP's keys are always SCALARs */
};

/* Why a text is no tree: where, and a message without position. */
struct ynode_error {
	int line, col;
	char *msg; /* NULL: no error; caller frees */
};

/*
 * Parse one YAML document.  Returns its root; or NULL with err->msg NULL
 * for an empty stream; or NULL with err->msg set (e.g. "invalid YAML:
 * could not find expected ':' while scanning a simple key started at
 * line 3, column 1") for invalid YAML, a second document, an alias (they
 * make "which line" ambiguous), a key that is not a scalar, or nesting
 * deeper than 63.  Free the root with ynode_free (NULL-safe).
 */
struct ynode *ynode_parse(const char *text, size_t len,
						  struct ynode_error *err);
void ynode_free(struct ynode *n);

/* The value of key in mapping m (the first, if repeated); NULL if m is
 * NULL, no mapping, or has no such key.  Borrowed from the tree. */
const struct ynode *ynode_get(const struct ynode *m, const char *key);

/* An unquoted empty, "null" or "~" scalar. */
bool ynode_is_null(const struct ynode *n);

/* "a mapping", "a list" or "a scalar", for messages. */
const char *ynode_kind_name(const struct ynode *n);

#endif
