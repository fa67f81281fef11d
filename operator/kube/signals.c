/* signals.c — the handlers of signals.h. The handler only does async-signal-safe things: set the
 * flag, count, write one byte to a non-blocking pipe. Nothing is ever read from the pipe, so it
 * stays readable and every poller sees the stop. */
#include "kube/signals.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "base/flag.h"

/* kube_watch polls a volatile int (through base/flag.h: atomic loads and stores, lock-free, so
 * the handler may set it); on Linux sig_atomic_t is an int. */
_Static_assert(sizeof(sig_atomic_t) == sizeof(int), "sig_atomic_t must be an int");

static volatile int stop_flag;
static volatile sig_atomic_t nsignals;
static int pipefd[2] = {-1, -1};
static int installed;

static void poke(void)
{
    int saved = errno;
    if (pipefd[1] >= 0) {
        ssize_t n = write(pipefd[1], "x", 1);
        (void)n; /* full pipe: already readable, nothing lost */
    }
    errno = saved;
}

static void on_signal(int sig)
{
    (void)sig;
    nsignals++;
    flag_set(&stop_flag, 1);
    poke();
}

int kube_sig_setup(struct err *e)
{
    if (installed)
        return 0;
    if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) != 0)
        return err_set(e, ERR_IO, "signals: pipe2: %s", strerror(errno));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0) {
        int rc = err_set(e, ERR_IO, "signals: sigaction: %s", strerror(errno));
        close(pipefd[0]);
        close(pipefd[1]);
        pipefd[0] = pipefd[1] = -1;
        return rc;
    }
    signal(SIGPIPE, SIG_IGN);
    installed = 1;
    if (flag_get(&stop_flag))
        poke(); /* a stop asked for before setup must still wake pollers */
    return 0;
}

void kube_sig_teardown(void)
{
    if (!installed)
        return;
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    close(pipefd[0]);
    close(pipefd[1]);
    pipefd[0] = pipefd[1] = -1;
    installed = 0;
    flag_set(&stop_flag, 0);
    nsignals = 0;
}

volatile int *kube_sig_stop_flag(void)
{
    return &stop_flag;
}

int kube_sig_stopping(void)
{
    return flag_get(&stop_flag);
}

int kube_sig_count(void)
{
    return (int)nsignals;
}

void kube_sig_request_stop(void)
{
    flag_set(&stop_flag, 1);
    poke();
}

int kube_sig_fd(void)
{
    return pipefd[0];
}

int kube_sig_wait(double timeout)
{
    if (flag_get(&stop_flag))
        return 1;
    if (pipefd[0] < 0) {
        /* no pipe yet: sleep in short steps so a request_stop is still noticed */
        double left = timeout < 0 ? 1e18 : timeout;
        while (!flag_get(&stop_flag) && left > 0) {
            usleep(50 * 1000);
            left -= 0.05;
        }
        return flag_get(&stop_flag);
    }
    struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
    int ms = timeout < 0 ? -1 : timeout > 86400 ? 86400000 : (int)(timeout * 1000.0);
    while (poll(&p, 1, ms) < 0 && errno == EINTR) {
        if (flag_get(&stop_flag))
            return 1;
    }
    return flag_get(&stop_flag);
}
