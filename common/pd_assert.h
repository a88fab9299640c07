/* pd_assert.h -- programmer-error checks that stay on in every build. */
#ifndef PD_ASSERT_H
#define PD_ASSERT_H

#include <stdio.h>
#include <stdlib.h>

#define PD_ASSERT(cond)                                                      \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "assertion failed: %s at %s:%d\n", #cond,        \
                    __FILE__, __LINE__);                                     \
            abort();                                                         \
        }                                                                    \
    } while (0)

#define PD_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
