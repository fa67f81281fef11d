/* timescale.h — wall-clock limits of tests, stretched where the code runs slower than
 * native: BALLAST_TEST_TIME_SCALE (1..100, default 1; CMake sets it for the valgrind runs,
 * where TLS handshakes and every syscall take tens of times longer). A limit is a bound
 * on "never answers", not a performance target, so stretching it keeps its meaning. */
#ifndef BALLAST_TEST_TIMESCALE_H
#define BALLAST_TEST_TIMESCALE_H

#include <stdlib.h>

static inline double test_time_scale(void)
{
    const char *s = getenv("BALLAST_TEST_TIME_SCALE");
    double v = s ? strtod(s, NULL) : 1.0;
    return v >= 1.0 && v <= 100.0 ? v : 1.0;
}

#endif
