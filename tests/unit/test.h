/* test.h: a minimal check macro for the C unit tests: each failure prints
 * file:line and the expression; main returns the failure count. */
#ifndef WARD_TEST_H
#define WARD_TEST_H
#include <stdio.h>
static int test_failures;
#define CHECK(e)                                                                      \
	do {                                                                          \
		if (!(e)) {                                                           \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #e); \
			test_failures++;                                              \
		}                                                                     \
	} while (0)
#define TEST_DONE() (printf("%s\n", test_failures ? "FAILED" : "ok"), test_failures ? 1 : 0)
#endif
