/* test_pgconn.c: unit tests of conninfo masking and checking, through libpq's own parser. */
#include "walpipe/pgconn.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void
test_mask(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"host=h password=s3cret user=u", "user=u password=**** host=h"},
		{"password='a b\\' c' dbname=x", "password=**** dbname=x"},
		{"password = spaced dbname=x", "password=**** dbname=x"},
		{"postgresql://u:s3cret@h:5432/db", "user=u password=**** dbname=db host=h port=5432"},
		{"postgresql://u@h/db?password=x&sslmode=require", "user=u password=**** dbname=db host=h sslmode=require"},
		{"postgres://h/db?sslpassword=keypass", "dbname=db host=h sslpassword=****"},
		{"dbname='my db' application_name='a\\\\b'", "dbname='my db' application_name='a\\\\b'"},
		{"dbname=x", "dbname=x"},
		{"host=h password", "(a connection string libpq cannot parse)"},
	};

	(void) state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *m = pgconn_mask(cases[i].in);

		assert_string_equal(m, cases[i].out);
		free(m);
	}
}

static void
test_has_password(void **state)
{
	(void) state;
	assert_true(pgconn_has_password("host=h password=x"));
	assert_true(pgconn_has_password("postgresql://u:pw@h/db"));
	assert_true(pgconn_has_password("postgresql://h/db?password=pw"));
	assert_true(pgconn_has_password("sslpassword=k dbname=d"));
	assert_false(pgconn_has_password("host=h dbname=d"));
	assert_false(pgconn_has_password("password='' dbname=d"));
	assert_false(pgconn_has_password("not a conninfo"));
}

/* libpq's parse errors quote the string's pieces: never shown. */
static void
test_check(void **state)
{
	char err[256];

	(void) state;
	assert_true(pgconn_check("host=h dbname=d", err, sizeof(err)));
	assert_false(pgconn_check("host=h hunter2", err, sizeof(err)));
	assert_null(strstr(err, "hunter2"));
	assert_string_equal(err, "missing \"...\" after \"...\" in connection info string");
	assert_false(pgconn_check("postgresql://u:p%zzw@h/db", err, sizeof(err)));
	assert_string_equal(err, "invalid percent-encoded token: \"...\"");
	assert_false(pgconn_check("nosuchkey=1", err, sizeof(err)));
	assert_string_equal(err, "invalid connection option \"...\"");
}

/* The layer's errors on a connection that failed: retried, and the text
 * "what: libpq's reason" without libpq's trailing newline. */
static void
test_exec_failed(void **state)
{
	PGconn *conn = PQconnectdb("host=/nonexistent/walpipe-test port=1");
	PGresult *r = (PGresult *) 1;
	char err[512];
	size_t n;

	(void) state;
	assert_int_not_equal(PQstatus(conn), CONNECTION_OK);
	assert_int_equal(pgconn_classify(conn, NULL), PGCONN_RETRY);
	assert_int_equal(pgconn_exec(conn, "SELECT 1", "could not select", &r,
								 err, sizeof(err)),
					 PGCONN_RETRY);
	PQclear(r);
	assert_int_equal(strncmp(err, "could not select: ", 18), 0);
	n = strlen(err);
	assert_true(n > 18 && err[n - 1] != '\n');
	assert_int_equal(pgconn_exec_params(conn, "SELECT $1", 1,
										(const char *[]){"x"}, "could not",
										NULL, err, sizeof(err)),
					 PGCONN_RETRY);
	assert_string_equal(pgconn_sqlstate(NULL), "");
	PQfinish(conn);
}

/* map_quote_ident's rule: double quotes, an inner one doubled. */
static void
test_quote_ident(void **state)
{
	char *q = pgconn_quote_ident("a\"B c");

	(void) state;
	assert_string_equal(q, "\"a\"\"B c\"");
	free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_has_password),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_exec_failed),
		cmocka_unit_test(test_quote_ident),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
