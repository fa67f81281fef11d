/* fuzz_kubeconfig.c — a kubeconfig file (YAML), which a user, a CI job or a Secret
 * provides: kube_config_from_file on the input written to a file of its own, with the
 * current context or the one named "fuzz", then the bearer token as a request would
 * read it. Files it names (certificates, tokenFile) resolve next to it, in a temporary
 * directory that holds nothing else. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube/config.h"

static char dir[64], path[96];

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_kubeconfig: %s\n", what);
        abort();
    }
}

static void cleanup(void)
{
    unlink(path);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (dir[0] == '\0') {
        snprintf(dir, sizeof dir, "/tmp/fuzz_kubeconfig.XXXXXX");
        check(mkdtemp(dir) != NULL, "mkdtemp");
        snprintf(path, sizeof path, "%s/kubeconfig", dir);
        atexit(cleanup);
    }
    if (size < 1)
        return 0;
    FILE *f = fopen(path, "wb");
    check(f != NULL, "cannot write the kubeconfig");
    check(fwrite(data + 1, 1, size - 1, f) == size - 1 && fclose(f) == 0, "short write");

    struct kube_config *c = NULL;
    struct err e = {0};
    int rc = kube_config_from_file(path, (data[0] & 1) ? "fuzz" : NULL, &c, &e);
    check((rc == 0) == (c != NULL), "*out set iff success");
    check(rc == 0 || e.msg[0] != '\0', "an error without a message");
    if (c != NULL) {
        check(c->server != NULL && c->source != NULL, "a config without a server");
        char tok[256];
        kube_config_bearer(c, tok, sizeof tok, &e);
        kube_config_token_invalidate(c);
        kube_config_bearer(c, tok, sizeof tok, &e);
    }
    kube_config_free(c);
    return 0;
}
