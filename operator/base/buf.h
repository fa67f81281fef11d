/* buf.h — a growable byte buffer, always NUL-terminated, with an optional cap.
 * Used for HTTP bodies, watch lines and rendered text. The struct owns data;
 * buf_free releases it. A buffer that would pass its cap refuses the append. */
#ifndef BALLAST_BASE_BUF_H
#define BALLAST_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data; /* NUL-terminated; NULL until the first append */
    size_t len;
    size_t cap;
    size_t max; /* 0 = unbounded */
};

/* All return 0, or -1 when out of memory or over max (the buffer is unchanged). */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
void buf_reset(struct buf *b); /* len = 0, keeps the memory */
void buf_free(struct buf *b);
/* buf_consume drops the first n bytes (used by line splitters). */
void buf_consume(struct buf *b, size_t n);
/* buf_steal returns data (caller frees with free) and leaves b empty. */
char *buf_steal(struct buf *b);

#endif
