/* signals.h — SIGTERM/SIGINT turned into a stop flag every thread can poll (and pass to kube_watch
 * as its stop pointer), plus a self-pipe that becomes readable on the first signal, for poll()
 * loops. SIGPIPE is ignored, since curl runs with CURLOPT_NOSIGNAL. Process-wide by nature. */
#ifndef BALLAST_KUBE_SIGNALS_H
#define BALLAST_KUBE_SIGNALS_H

#include "base/err.h"

/* Installs the handlers; idempotent (later calls return 0 at once). Call from main()
 * before starting threads. 0, or ERR_IO naming the failing call. */
int kube_sig_setup(struct err *e);
/* Restores the default SIGTERM/SIGINT dispositions and closes the pipe (tests; exit path). */
void kube_sig_teardown(void);

/* The flag: 0 until a stop was asked for. Never freed; valid for the whole process. */
volatile int *kube_sig_stop_flag(void);
int kube_sig_stopping(void);
/* How many SIGTERM/SIGINT arrived (main may give up waiting for a clean stop on the second). */
int kube_sig_count(void);
/* Asks for a stop as a signal would (e.g. when leadership is lost, or from tests). */
void kube_sig_request_stop(void);

/* The self-pipe's read end (readable once a stop was asked for), or -1 before setup. */
int kube_sig_fd(void);
/* Blocks up to timeout seconds (< 0 = forever) for a stop; returns 1 when stopping, else 0. */
int kube_sig_wait(double timeout);

#endif
