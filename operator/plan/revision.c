/* revision.c — names for "what a member runs": the member template's hash (the pod
 * label ballast.dev/revision that drives rolling) and the restart annotation as a
 * label-safe value, so a restarted operator can tell who still needs a restart. */
#include "plan/internal.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static void hex10(uint64_t h, char out[11])
{
    snprintf(out, 11, "%010llx", (unsigned long long)(h & 0xffffffffffULL));
}

void plan_revision(const struct psc *p, char out[11])
{
    struct buf b = {0};
    const struct psc_spec *s = &p->spec;
    int rc = 0;
    /* Every field the pod template is made from goes in, with a tag, so that moving
     * a value from one field to another changes the hash. */
    /* v2: the pod runs the engine on the configuration ballast renders (init container,
     * per-revision ConfigMap, RUNNING readiness); pods of v1 are rolled onto it. */
    rc |= buf_printf(&b, "v2|image=%zu:%s|grace=%d|", s->image ? strlen(s->image) : 0,
                     s->image ? s->image : "", s->grace_seconds);
    for (int i = 0; i < s->nconfig; i++)
        rc |= buf_printf(&b, "config=%zu:%s=%zu:%s|", strlen(s->config[i].key), s->config[i].key,
                         strlen(s->config[i].value), s->config[i].value);
    rc |= buf_puts(&b, "resources=");
    rc |= plan_jcanon(&b, s->resources);
    for (int i = 0; i < s->nlisteners; i++)
        rc |= buf_printf(&b, "|listener=%zu:%s=%d", strlen(s->listeners[i].name),
                         s->listeners[i].name, s->listeners[i].port);
    rc |= buf_printf(&b, "|metrics=%d:%s|class=%s", s->metrics_port,
                     s->metrics_path ? s->metrics_path : "",
                     s->storage_class ? s->storage_class : "(cluster default)");
    if (rc != 0 || b.data == NULL)
        out[0] = '\0'; /* out of memory: plan_compute fails the pass on an empty revision */
    else
        hex10(fnv1a(b.data, b.len), out);
    buf_free(&b);
}

void plan_cluster_id(const struct psc *p, char out[23])
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char key[400];
    int n = snprintf(key, sizeof key, "ballast-cluster-id|%s|%s", p->ns, p->name);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof key ? (size_t)n : sizeof key - 1;
    uint64_t h[2] = {fnv1a(key, len), 0};
    key[0] = 'B'; /* a second, independent hash of a different string */
    h[1] = fnv1a(key, len) ^ 0x9e3779b97f4a7c15ULL;
    unsigned char bytes[18] = {0};
    for (int i = 0; i < 16; i++)
        bytes[i] = (unsigned char)(h[i / 8] >> (8 * (i % 8)));
    /* 16 bytes -> 22 characters: 5 groups of 3 bytes, then the last byte (+ 2 zero bytes) */
    int o = 0;
    for (int i = 0; i < 18 && o < 22; i += 3) {
        uint32_t v = (uint32_t)bytes[i] << 16 | (uint32_t)bytes[i + 1] << 8 | bytes[i + 2];
        for (int k = 3; k >= 0 && o < 22; k--)
            out[o++] = b64[(v >> (6 * k)) & 63];
    }
    out[22] = '\0';
}

static bool label_value_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return false;
    if (!isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!(isalnum(ch) || ch == '-' || ch == '_' || ch == '.'))
            return false;
    }
    return true;
}

void plan_restart_label(const char *token, char out[64])
{
    if (token == NULL || token[0] == '\0') {
        out[0] = '\0';
        return;
    }
    if (label_value_ok(token)) {
        snprintf(out, 64, "%s", token);
        return;
    }
    char h[11];
    hex10(fnv1a(token, strlen(token)), h);
    snprintf(out, 64, "h%s", h);
}
