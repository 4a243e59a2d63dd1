/* Shared scaffolding for the Check suites: run a suite, refuse to pass when
 * no test was registered, return the number of failures as exit status. */
#ifndef NS_TEST_H
#define NS_TEST_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"

static inline int ns_test_run(Suite *s)
{
    ns_init();
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int ntests = srunner_ntests_run(sr);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (ntests == 0) {
        fprintf(stderr, "no tests were registered\n");
        return 1;
    }
    return failed ? 1 : 0;
}

/* A fresh scratch directory for this test under $NS_TMP or /tmp. */
static inline const char *ns_test_tmpdir(void)
{
    static char dir[512];
    if (!dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/ns_test_XXXXXX", base ? base : "/tmp");
        if (!mkdtemp(dir))
            abort();
    }
    return dir;
}

#endif
