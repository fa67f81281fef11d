/* err.h — the error value every ballast function fills on failure.
 * A function returns 0 on success or a negative code, and writes a message a
 * person can act on into the caller's struct err. No allocation: safe anywhere. */
#ifndef BALLAST_BASE_ERR_H
#define BALLAST_BASE_ERR_H

#include <stddef.h>

enum {
    ERR_OK = 0,
    ERR_INVALID = -1,  /* bad input: malformed spec, flag, file, metric text */
    ERR_IO = -2,       /* a file or socket failed */
    ERR_API = -3,      /* the API server answered with an error Status */
    ERR_NOMEM = -4,    /* allocation failed */
    ERR_NOTFOUND = -5, /* the thing asked for does not exist */
    ERR_CONFLICT = -6, /* 409: stale resourceVersion or already exists */
    ERR_GONE = -7,     /* 410: the watch's resourceVersion is too old */
    ERR_TIMEOUT = -8,  /* a deadline passed */
    ERR_CANCELLED = -9 /* shutdown was asked for */
};

struct err {
    int code;
    char msg[512];
};

/* err_set fills e (if non-NULL) and returns code, so callers can `return err_set(...)`. */
int err_set(struct err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* err_prefix prepends "what: " to an existing message, keeping the code. */
int err_prefix(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void err_clear(struct err *e);

#endif
