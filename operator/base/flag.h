/* flag.h — the stop flags one thread (or a signal handler) sets and other threads poll.
 * They stay `volatile int` (a signal handler writes one, and the APIs pass them as
 * `volatile int *`), but a volatile access is no synchronisation: a plain read racing a
 * write from another thread is a data race in C11 and for ThreadSanitizer. Every read and
 * write of a flag goes through these; lock-free atomics are async-signal-safe. */
#ifndef BALLAST_BASE_FLAG_H
#define BALLAST_BASE_FLAG_H

/* 1 when f is set; a NULL flag is never set. */
static inline int flag_get(const volatile int *f)
{
    return f != NULL && __atomic_load_n(f, __ATOMIC_ACQUIRE) != 0;
}

static inline void flag_set(volatile int *f, int v)
{
    __atomic_store_n(f, v, __ATOMIC_RELEASE);
}

#endif
