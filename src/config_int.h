/* config_int.h: the configuration table and its loader, shared by config*.c (private). */
#ifndef WALPIPE_CONFIG_INT_H
#define WALPIPE_CONFIG_INT_H

#include "walpipe/config.h"
#include "walpipe/ident.h"

#include "yamltree.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The configuration is described by tables (config_table.c): one row per
 * key, saying its type, whether it is required, its default, its bounds
 * or values, where it is stored and whether a running walpipe may take a
 * change of it on SIGHUP.  config.c reads a YAML tree through them: the
 * unknown-key, duplicate-key, kind and value errors all come from there;
 * what a row cannot say (a rule across keys) is a table's check hook
 * (config_check.c).  Adding a key is one row plus the field it fills.
 * Everything here is pure and never logs: errors go to the loader.
 */

/* One load: where errors go and the key path being read. */
struct loader {
	const char *file;
	struct config_errors *errs;
	struct wp_config *cfg;
	char path[256]; /* the key path being read: mappings[2].columns.id */
	size_t key_at;	/* path's length before the key being read */
	int *pos;		/* line * 100000 + column of each error, for sorting */
	bool quoted;	/* the scalar set_field converts was YAML-quoted */
};

enum ftype {
	F_STRING, /* text, not empty */
	F_TEXT,	  /* text, may be empty (a where clause) */
	F_IDENT,  /* a plain lower-case name: source name, slot */
	F_NAME,	  /* a SQL name (ident.h) */
	F_QNAME,  /* schema.table of SQL names; the table part at off2 */
	F_BOOL,
	F_INT,
	F_SIZE,
	F_DURATION,
	F_ENUM,	   /* one of enums, kept as its text (char *) */
	F_KIND,	   /* one of enums, kept as its value (an enum) */
	F_STRINGS, /* a list of texts: char ** at off, size_t count at off2 */
	F_SECTION, /* a mapping read with table, into the same object */
	F_LIST,	   /* a list of mappings read with table: items at off,
				* size_t count at off2 */
	F_CUSTOM,  /* read by load only; never compared, so always FIELD_RELOAD */
};

/* The values of an enum (F_ENUM, F_KIND), in the order messages list
 * them; ends with a NULL name. */
struct enum_value {
	const char *name;
	int value; /* F_KIND: what is stored */
};

#define FIELD_REQUIRED 0x01	 /* absent: an error */
#define FIELD_RELOAD 0x02	 /* may change on SIGHUP (config_fixed_changes) */
#define FIELD_ENABLES 0x04	 /* SECTION: a bool at off, true once it loads */
#define FIELD_SKIP_NULL 0x08 /* SECTION, LIST: a null value is as absent */
#define FIELD_DEFAULTS 0x10	 /* SECTION: absent, its defaults apply */

struct field;
struct table;

/*
 * Read a value that a type cannot describe (a list with its own rules,
 * a choice of forms), reporting its own errors; L->path holds the key.
 * obj is the object the table fills.
 */
typedef void config_load_fn(struct loader *L, const struct field *f,
							const struct ynode *v, void *obj);

struct field {
	const char *key;
	enum ftype type;
	unsigned flags;					/* FIELD_* */
	const char *def;				/* default text, read like a value */
	int64_t min, max;				/* INT, SIZE, DURATION */
	const struct enum_value *enums; /* ENUM, KIND */
	const char *what;				/* NAME, QNAME: "table name" */
	size_t off, off2;				/* into the object the table fills */
	const struct table *table;		/* SECTION, LIST */
	config_load_fn *load;			/* reads the value instead of the type */
};

enum table_style {
	/* A null value leaves an optional key unset; a wrong kind is
	 * "expected a boolean" or "expected a value". */
	TABLE_SECTION,
	/* Every value must be a non-null scalar ("expected a value"). */
	TABLE_ITEM,
};

enum table_dups {
	DUPS_FIRST, /* a repeated key: silently the first counts */
	DUPS_KNOWN, /* a repeated known key is an error; the first counts */
	DUPS_ANY,	/* any repeated key is an error (even an unknown one) */
};

struct table {
	const struct field *fields; /* ends with a NULL key */
	size_t size;				/* a LIST item's size */
	enum table_style style;
	enum table_dups dups;
	bool top; /* missing keys are "sections", reported at 1:1 */
	/* A scalar value sets this key alone, the rest take defaults
	 * ("snapshot: never" for "snapshot: { mode: never }"). */
	const char *scalar_key;
	/* Before the keys are read (a list item: its node). */
	void (*init)(void *obj, const struct ynode *n);
	/* After the keys of a mapping are read: rules across keys. */
	void (*check)(struct loader *L, void *obj, const struct ynode *n);
};

/* The whole file, from the top (config_table.c). */
extern const struct table config_top;

/* config.c: the loader's helpers for hooks and custom fields. */
void config_error(struct loader *L, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The same with the path of the mapping that holds the current key. */
void config_error_above(struct loader *L, int line, int col,
						const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
size_t config_path_push(struct loader *L, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void config_path_pop(struct loader *L, size_t old);
void config_unknown_key(struct loader *L, const struct ynode *k,
						const char *const *keys, size_t n);
bool config_load_table(struct loader *L, const struct ynode *m,
					   const struct table *t, void *obj, int pline,
					   int pcol);
bool config_set_field(struct loader *L, const struct field *f, void *obj,
					  const char *v, int line, int col);
bool config_load_name(struct loader *L, const char *v, bool quoted,
					  int nparts, const char *what, int line, int col,
					  struct ident_name *out);
bool config_load_qname(struct loader *L, const struct ynode *v,
					   const char *what, char **schema, char **table);
char *config_load_name1(struct loader *L, const struct ynode *v,
						const char *what);
bool config_parse_bool(const char *s, bool *out);
bool config_parse_duration(const char *s, int64_t *out);
bool config_enum_has(const struct enum_value *e, const char *v,
					 int *value);

/* config_check.c: the table's check hooks, rules across keys. */
void config_check_mapping(struct loader *L, void *obj, const struct ynode *n);
void config_check_staging(struct loader *L, void *obj, const struct ynode *n);
void config_check_kafka(struct loader *L, void *obj, const struct ynode *n);
void config_check_mirror(struct loader *L, void *obj, const struct ynode *n);
void config_check_top(struct loader *L, void *obj, const struct ynode *root);

#endif
