/* The unit tests' one assertion: counts, and prints the failed condition. Each test program
 * ends with "N passed, N failed" (check_report). */
#ifndef SFP_TEST_CHECK_H
#define SFP_TEST_CHECK_H

#include <stdio.h>

static int passed, failed;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (cond) {                                                                  \
            ++passed;                                                                \
        } else {                                                                     \
            ++failed;                                                                \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                   \
        }                                                                            \
    } while (0)

static int check_report(void) {
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}

#endif
