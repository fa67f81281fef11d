/* config.c — loads a kube_config from a kubeconfig file (libyaml, converted to a cJSON tree so
 * the lookups read like the file) or from the in-cluster service account, and hands out the
 * current bearer token, re-reading a token file whenever it changes on disk. */
#include "kube/config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "base/buf.h"
#include "base/log.h"

#define KC_MAX_FILE  (16u << 20) /* a kubeconfig or PEM bigger than this is not one */
#define KC_MAX_TOKEN (64u << 10)
#define KC_MAX_NODES 200000 /* bounds alias expansion ("billion laughs") */
#define KC_MAX_DEPTH 64
#define SA_DIR       "/var/run/secrets/kubernetes.io/serviceaccount"

struct kube_config *kube_config_new(void)
{
    struct kube_config *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        return NULL;
    }
    return c;
}

void kube_config_free(struct kube_config *c)
{
    if (c == NULL)
        return;
    free(c->server);
    free(c->ca_pem);
    free(c->cert_pem);
    if (c->key_pem) /* keys and tokens do not linger in freed memory */
        explicit_bzero(c->key_pem, c->key_len);
    free(c->key_pem);
    if (c->token)
        explicit_bzero(c->token, strlen(c->token));
    free(c->token);
    free(c->token_file);
    free(c->ns);
    free(c->source);
    if (c->cached_token)
        explicit_bzero(c->cached_token, strlen(c->cached_token));
    free(c->cached_token);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* Reads a whole file (at most max bytes) into a NUL-terminated malloc'ed string. */
static int read_file(const char *path, size_t max, char **out, size_t *len, struct err *e)
{
    int rc = 0;
    struct buf b = {.max = max};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(e, ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        rc = err_set(e, ERR_IO, "%s: is a directory", path);
        goto out;
    }
    for (;;) {
        char chunk[8192];
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = err_set(e, ERR_IO, "%s: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        if (buf_append(&b, chunk, (size_t)n) < 0) {
            rc = err_set(e, ERR_INVALID, "%s: larger than %zu bytes", path, max);
            goto out;
        }
    }
    if (b.data == NULL && buf_append(&b, "", 0) < 0) {
        rc = err_set(e, ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    if (len)
        *len = b.len;
    *out = buf_steal(&b);
out:
    close(fd);
    buf_free(&b);
    return rc;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* ---- YAML -> cJSON (scalars become strings; that is all a kubeconfig needs) ----
 * Built from libyaml's events, not from yaml_parser_load's document: the limits are
 * checked as each event arrives, before the work they bound is done. Nesting is
 * refused at the 65th open collection (libyaml's scanner costs O(depth) per token in
 * flow collections, so 20k levels would take it seconds), and every alias is charged
 * the size of what it expands to before it is copied, so an anchored 1 MiB string
 * aliased 20,000 times is refused after a few MiB, not after 20 GiB. */

#define KC_NODE_COST       64         /* bytes charged per node, about a cJSON item */
#define KC_MAX_ALIAS_BYTES (4u << 20) /* what all aliases together may produce */

struct yanchor {
    char *name;
    const cJSON *node; /* in the tree being built, or in yconv.dropped */
    size_t bytes, nodes;
};

struct yframe {
    cJSON *c;      /* the open array or object */
    char *key;     /* in an object: the key read, waiting for its value */
    bool key_bad;  /* the key was not a scalar: drop the pair */
    bool have_key; /* the next node is a value */
    char *anchor;  /* the collection's own anchor, registered when it closes */
    size_t bytes0, nodes0;
};

struct yconv {
    struct yframe stack[KC_MAX_DEPTH + 1];
    int depth;
    struct yanchor *anchors;
    size_t nanchors;
    size_t bytes, nodes, alias_bytes;
    cJSON *dropped; /* values of pairs with complex keys: kept until the end for anchors */
    cJSON *root;
    const char *why; /* the limit that refused the file */
};

static void yconv_free(struct yconv *y)
{
    for (int i = 0; i < y->depth; i++) {
        cJSON_Delete(y->stack[i].c);
        free(y->stack[i].key);
        free(y->stack[i].anchor);
    }
    for (size_t i = 0; i < y->nanchors; i++)
        free(y->anchors[i].name);
    free(y->anchors);
    cJSON_Delete(y->dropped);
    cJSON_Delete(y->root);
}

static int yconv_charge(struct yconv *y, size_t bytes, size_t nodes)
{
    y->bytes += bytes;
    y->nodes += nodes;
    if (y->nodes > KC_MAX_NODES) {
        y->why = "more than 200000 nodes";
        return -1;
    }
    return 0;
}

static int yconv_anchor(struct yconv *y, const char *name, const cJSON *node, size_t bytes,
                        size_t nodes)
{
    if (name == NULL)
        return 0;
    for (size_t i = 0; i < y->nanchors; i++) {
        if (strcmp(y->anchors[i].name, name) == 0) { /* redefined: the later one counts */
            y->anchors[i] = (struct yanchor){y->anchors[i].name, node, bytes, nodes};
            return 0;
        }
    }
    struct yanchor *na = realloc(y->anchors, (y->nanchors + 1) * sizeof *na);
    if (na == NULL)
        return -1;
    y->anchors = na;
    char *dup = strdup(name);
    if (dup == NULL)
        return -1;
    y->anchors[y->nanchors++] = (struct yanchor){dup, node, bytes, nodes};
    return 0;
}

/* yconv_put hands v (owned) to the open collection, or makes it the root. */
static int yconv_put(struct yconv *y, cJSON *v, bool is_key_scalar, const char *key_text)
{
    if (y->depth == 0) {
        if (y->root != NULL) { /* a second document: kubeconfigs have one; ignore the rest */
            cJSON_AddItemToArray(y->dropped, v); /* kept: anchors may point into it */
            return 0;
        }
        y->root = v;
        return 0;
    }
    struct yframe *f = &y->stack[y->depth - 1];
    if (cJSON_IsArray(f->c)) {
        cJSON_AddItemToArray(f->c, v);
        return 0;
    }
    if (!f->have_key) {
        f->have_key = true;
        f->key_bad = !is_key_scalar;
        if (is_key_scalar && (f->key = strdup(key_text)) == NULL) {
            cJSON_Delete(v);
            return -1;
        }
        cJSON_AddItemToArray(y->dropped, v); /* a key is kept as text; anchors may point here */
        return 0;
    }
    f->have_key = false;
    if (f->key_bad)
        cJSON_AddItemToArray(y->dropped, v); /* complex keys mean nothing in a kubeconfig */
    else
        cJSON_AddItemToObject(f->c, f->key, v);
    free(f->key);
    f->key = NULL;
    return 0;
}

static const char *ystr(const yaml_char_t *s)
{
    return (const char *)s;
}

/* One event; 0 to go on, 1 at the end of the stream, -1 refused (y->why) or out of memory. */
static int yconv_event(struct yconv *y, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_STREAM_END_EVENT:
        return 1;
    case YAML_SCALAR_EVENT: {
        const char *val = ystr(ev->data.scalar.value);
        size_t len = ev->data.scalar.length;
        if (yconv_charge(y, len + KC_NODE_COST, 1) != 0)
            return -1;
        /* A plain `~`/`null`/empty scalar is YAML null: treat it as absent. */
        bool null = ev->data.scalar.plain_implicit &&
                    ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                    (len == 0 || strcmp(val, "~") == 0 || strcmp(val, "null") == 0);
        cJSON *v = null ? cJSON_CreateNull() : cJSON_CreateString(val);
        if (v == NULL)
            return -1;
        if (yconv_anchor(y, ystr(ev->data.scalar.anchor), v, len + KC_NODE_COST, 1) != 0) {
            cJSON_Delete(v);
            return -1;
        }
        return yconv_put(y, v, true, val);
    }
    case YAML_ALIAS_EVENT: {
        const struct yanchor *a = NULL;
        for (size_t i = 0; i < y->nanchors; i++)
            if (strcmp(y->anchors[i].name, ystr(ev->data.alias.anchor)) == 0)
                a = &y->anchors[i];
        if (a == NULL) {
            y->why = "an alias to an unknown or unfinished anchor";
            return -1;
        }
        /* charged before the copy is made */
        y->alias_bytes += a->bytes;
        if (y->alias_bytes > KC_MAX_ALIAS_BYTES) {
            y->why = "aliases expand past 4 MiB";
            return -1;
        }
        if (yconv_charge(y, a->bytes, a->nodes) != 0)
            return -1;
        cJSON *v = cJSON_Duplicate(a->node, true);
        if (v == NULL)
            return -1;
        bool scalar = cJSON_IsString(a->node);
        return yconv_put(y, v, scalar, scalar ? a->node->valuestring : NULL);
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        if (y->depth >= KC_MAX_DEPTH) {
            y->why = "nested more than 64 levels";
            return -1;
        }
        if (yconv_charge(y, KC_NODE_COST, 1) != 0)
            return -1;
        bool seq = ev->type == YAML_SEQUENCE_START_EVENT;
        const yaml_char_t *an =
            seq ? ev->data.sequence_start.anchor : ev->data.mapping_start.anchor;
        struct yframe *f = &y->stack[y->depth];
        *f = (struct yframe){.c = seq ? cJSON_CreateArray() : cJSON_CreateObject(),
                             .bytes0 = y->bytes - KC_NODE_COST,
                             .nodes0 = y->nodes - 1};
        if (f->c == NULL)
            return -1;
        if (an != NULL && (f->anchor = strdup(ystr(an))) == NULL) {
            cJSON_Delete(f->c);
            return -1;
        }
        y->depth++;
        return 0;
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: {
        if (y->depth == 0)
            return 0;
        struct yframe f = y->stack[--y->depth];
        free(f.key);
        int rc = yconv_anchor(y, f.anchor, f.c, y->bytes - f.bytes0, y->nodes - f.nodes0);
        free(f.anchor);
        if (rc != 0) {
            cJSON_Delete(f.c);
            return -1;
        }
        return yconv_put(y, f.c, false, NULL);
    }
    default: /* stream/document start and end */
        return 0;
    }
}

/* Parses YAML text into an owned cJSON tree (caller cJSON_Delete). */
static int yaml_to_json(const char *path, const char *text, size_t len, cJSON **out, struct err *e)
{
    yaml_parser_t p;
    int rc = 0;
    struct yconv y = {0};
    if (!yaml_parser_initialize(&p))
        return err_set(e, ERR_NOMEM, "%s: out of memory", path);
    if ((y.dropped = cJSON_CreateArray()) == NULL) {
        yaml_parser_delete(&p);
        return err_set(e, ERR_NOMEM, "%s: out of memory", path);
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            rc = err_set(e, ERR_INVALID, "%s: not valid YAML: %s at line %zu column %zu", path,
                         p.problem ? p.problem : "parse error", p.problem_mark.line + 1,
                         p.problem_mark.column + 1);
            goto out;
        }
        int r = yconv_event(&y, &ev);
        size_t line = ev.start_mark.line + 1;
        yaml_event_delete(&ev);
        if (r > 0)
            break;
        if (r < 0) {
            rc = y.why ? err_set(e, ERR_INVALID, "%s: YAML too deep or too large: %s (line %zu)",
                                 path, y.why, line)
                       : err_set(e, ERR_NOMEM, "%s: out of memory", path);
            goto out;
        }
    }
    if (y.root == NULL) {
        rc = err_set(e, ERR_INVALID, "%s: empty file", path);
    } else if (!cJSON_IsObject(y.root)) {
        rc = err_set(e, ERR_INVALID, "%s: not a kubeconfig (top level is not a mapping)", path);
    } else {
        *out = y.root;
        y.root = NULL;
    }
out:
    yconv_free(&y);
    yaml_parser_delete(&p);
    return rc;
}

/* ---- base64 (the *-data fields) ---- */

static int b64val(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+' || ch == '-')
        return 62;
    if (ch == '/' || ch == '_')
        return 63;
    return -1;
}

/* Decodes standard or URL-safe base64, skipping whitespace; out is malloc'ed and NUL-terminated. */
static int b64_decode(const char *in, char **out, size_t *outlen)
{
    size_t n = strlen(in);
    char *o = malloc(n / 4 * 3 + 4);
    if (o == NULL)
        return ERR_NOMEM;
    size_t len = 0;
    unsigned acc = 0;
    int bits = 0, pad = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)in[i];
        if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t')
            continue;
        if (ch == '=') {
            pad++;
            continue;
        }
        int v = b64val(ch);
        if (v < 0 || pad) {
            free(o);
            return ERR_INVALID;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[len++] = (char)((acc >> bits) & 0xff);
        }
    }
    if (bits >= 6 || pad > 2) { /* one dangling sextet is not a byte */
        free(o);
        return ERR_INVALID;
    }
    o[len] = '\0';
    *out = o;
    *outlen = len;
    return 0;
}

/* ---- kubeconfig ---- */

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* The entry of list `key` whose name is `name`; its body is under `inner`. */
static const cJSON *named(const cJSON *root, const char *key, const char *name, const char *inner)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, key);
    const cJSON *it;
    cJSON_ArrayForEach(it, list)
    {
        const char *n = jstr(it, "name");
        if (n && strcmp(n, name) == 0) {
            const cJSON *body = cJSON_GetObjectItemCaseSensitive(it, inner);
            return cJSON_IsObject(body) ? body : NULL;
        }
    }
    return NULL;
}

static int is_true(const char *s)
{
    return s && (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0 ||
                 strcmp(s, "yes") == 0 || strcmp(s, "on") == 0);
}

/* Resolves p against dir unless it is absolute; malloc'ed. */
static char *resolve(const char *dir, const char *p)
{
    struct buf b = {0};
    if (p[0] == '/')
        buf_puts(&b, p);
    else
        buf_printf(&b, "%s/%s", dir, p);
    return buf_steal(&b);
}

/* Loads `<field>-data` (base64) or `<field>` (a file, relative to dir) into *pem. */
static int load_pem(const char *kc, const char *dir, const cJSON *o, const char *field,
                    const char *what, char **pem, size_t *len, struct err *e)
{
    char key[64];
    snprintf(key, sizeof key, "%s-data", field);
    const char *data = jstr(o, key);
    if (data) {
        if (b64_decode(data, pem, len) != 0 || *len == 0)
            return err_set(e, ERR_INVALID, "kubeconfig %s: %s is not valid base64", kc, key);
        return 0;
    }
    const char *file = jstr(o, field);
    if (file == NULL)
        return 0;
    char *full = resolve(dir, file);
    if (full == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    struct err fe = {0};
    int rc = read_file(full, KC_MAX_FILE, pem, len, &fe);
    if (rc == 0 && *len == 0) {
        free(*pem);
        *pem = NULL;
        rc = err_set(&fe, ERR_INVALID, "%s: empty", full);
    }
    if (rc != 0)
        err_set(e, rc, "kubeconfig %s: cannot read %s (%s): %s", kc, what, field, fe.msg);
    free(full);
    return rc;
}

static int refresh_token_locked(struct kube_config *c, struct err *e);

/* Reads token_file once at load time, so a missing file is reported with the config. */
static int probe_token(struct kube_config *c, struct err *e)
{
    pthread_mutex_lock(&c->mu);
    int rc = refresh_token_locked(c, e);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

int kube_config_from_file(const char *path, const char *context, struct kube_config **out,
                          struct err *e)
{
    char *text = NULL, *dir = NULL;
    size_t len = 0;
    cJSON *root = NULL;
    struct kube_config *c = NULL;
    struct err fe = {0};
    int rc;

    *out = NULL;
    if (path == NULL || path[0] == '\0')
        return err_set(e, ERR_INVALID, "kubeconfig: empty path");
    rc = read_file(path, KC_MAX_FILE, &text, &len, &fe);
    if (rc != 0) {
        rc = err_set(e, rc, "kubeconfig %s", fe.msg);
        goto out;
    }
    rc = yaml_to_json(path, text, len, &root, &fe);
    if (rc != 0) {
        rc = err_set(e, rc, "kubeconfig %s", fe.msg);
        goto out;
    }
    const char *ctx = context && context[0] ? context : jstr(root, "current-context");
    if (ctx == NULL) {
        rc = err_set(e, ERR_INVALID, "kubeconfig %s: no current-context set and no context given",
                     path);
        goto out;
    }
    const cJSON *cx = named(root, "contexts", ctx, "context");
    if (cx == NULL) {
        rc = err_set(e, ERR_INVALID, "kubeconfig %s: context \"%s\" not found", path, ctx);
        goto out;
    }
    const char *cluster_name = jstr(cx, "cluster");
    const char *user_name = jstr(cx, "user");
    if (cluster_name == NULL) {
        rc = err_set(e, ERR_INVALID, "kubeconfig %s: context \"%s\" names no cluster", path, ctx);
        goto out;
    }
    const cJSON *cl = named(root, "clusters", cluster_name, "cluster");
    if (cl == NULL) {
        rc = err_set(e, ERR_INVALID, "kubeconfig %s: cluster \"%s\" (of context \"%s\") not found",
                     path, cluster_name, ctx);
        goto out;
    }
    const cJSON *us = NULL;
    if (user_name) {
        us = named(root, "users", user_name, "user");
        if (us == NULL) {
            rc = err_set(e, ERR_INVALID, "kubeconfig %s: user \"%s\" (of context \"%s\") not found",
                         path, user_name, ctx);
            goto out;
        }
    }
    const char *server = jstr(cl, "server");
    if (server == NULL) {
        rc = err_set(e, ERR_INVALID, "kubeconfig %s: cluster \"%s\" has no server", path,
                     cluster_name);
        goto out;
    }
    if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0) {
        rc = err_set(e, ERR_INVALID,
                     "kubeconfig %s: cluster \"%s\" server \"%s\" is not an http(s) URL", path,
                     cluster_name, server);
        goto out;
    }

    c = kube_config_new();
    if (c == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    c->server = strdup(server);
    if (c->server == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t sl = strlen(c->server);
    while (sl > 0 && c->server[sl - 1] == '/')
        c->server[--sl] = '\0';

    char *slash = strrchr(path, '/');
    dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
    if (dir && dir[0] == '\0') { /* "/kubeconfig" lives in "/" */
        free(dir);
        dir = strdup("");
    }
    if (dir == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    c->insecure = is_true(jstr(cl, "insecure-skip-tls-verify"));
    rc = load_pem(path, dir, cl, "certificate-authority", "the CA", &c->ca_pem, &c->ca_len, e);
    if (rc != 0)
        goto out;
    if (us) {
        rc = load_pem(path, dir, us, "client-certificate", "the client certificate", &c->cert_pem,
                      &c->cert_len, e);
        if (rc != 0)
            goto out;
        rc = load_pem(path, dir, us, "client-key", "the client key", &c->key_pem, &c->key_len, e);
        if (rc != 0)
            goto out;
        if ((c->cert_pem == NULL) != (c->key_pem == NULL)) {
            rc = err_set(e, ERR_INVALID,
                         "kubeconfig %s: user \"%s\" has a client certificate without a key "
                         "(or a key without a certificate)",
                         path, user_name);
            goto out;
        }
        c->token = xstrdup(jstr(us, "token"));
        const char *tf = jstr(us, "tokenFile");
        if (tf)
            c->token_file = resolve(dir, tf);
        if (c->token_file) {
            /* Fail now, with the file named, rather than on the first request. */
            struct err te = {0};
            if (probe_token(c, &te) < 0) {
                rc = err_set(e, ERR_IO, "kubeconfig %s: user \"%s\" tokenFile: %s", path, user_name,
                             te.msg);
                goto out;
            }
        }
        int has_cred = c->cert_pem || c->token || c->token_file || jstr(us, "username");
        if (!has_cred && (cJSON_GetObjectItemCaseSensitive(us, "exec") ||
                          cJSON_GetObjectItemCaseSensitive(us, "auth-provider"))) {
            rc = err_set(e, ERR_INVALID,
                         "kubeconfig %s: user \"%s\" uses an exec/auth-provider plugin, which "
                         "ballast does not run; give it a token, tokenFile or client certificate",
                         path, user_name);
            goto out;
        }
    }
    c->ns = xstrdup(jstr(cx, "namespace"));
    struct buf src = {0};
    buf_printf(&src, "kubeconfig %s (context %s)", path, ctx);
    c->source = buf_steal(&src);
    if (c->source == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    *out = c;
    c = NULL;
out:
    kube_config_free(c);
    cJSON_Delete(root);
    free(text);
    free(dir);
    return rc;
}

int kube_config_in_cluster(const char *dir, struct kube_config **out, struct err *e)
{
    struct kube_config *c = NULL;
    struct err fe = {0};
    char *nsbuf = NULL;
    int rc = 0;
    *out = NULL;
    if (dir == NULL)
        dir = SA_DIR;
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    if (host == NULL || host[0] == '\0' || port == NULL || port[0] == '\0')
        return err_set(e, ERR_INVALID,
                       "in-cluster config: KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT not set "
                       "(not running in a pod?)");
    c = kube_config_new();
    if (c == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    struct buf b = {0};
    /* An IPv6 service address needs brackets in a URL. */
    if (strchr(host, ':'))
        buf_printf(&b, "https://[%s]:%s", host, port);
    else
        buf_printf(&b, "https://%s:%s", host, port);
    c->server = buf_steal(&b);
    buf_printf(&b, "%s/token", dir);
    c->token_file = buf_steal(&b);
    buf_printf(&b, "%s/ca.crt", dir);
    char *ca_path = buf_steal(&b);
    c->source = strdup("in-cluster");
    if (c->server == NULL || c->token_file == NULL || ca_path == NULL || c->source == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = read_file(ca_path, KC_MAX_FILE, &c->ca_pem, &c->ca_len, &fe);
    if (rc != 0) {
        rc = err_set(e, rc, "in-cluster config: cannot read the CA: %s", fe.msg);
        goto out;
    }
    if (probe_token(c, &fe) < 0) {
        rc = err_set(e, ERR_IO, "in-cluster config: cannot read the token: %s", fe.msg);
        goto out;
    }
    buf_printf(&b, "%s/namespace", dir);
    char *ns_path = buf_steal(&b);
    if (ns_path && read_file(ns_path, 4096, &nsbuf, NULL, &fe) == 0) {
        char *t = trim(nsbuf);
        if (t[0])
            c->ns = strdup(t);
    }
    free(ns_path);
    *out = c;
    c = NULL;
out:
    free(nsbuf);
    free(ca_path);
    kube_config_free(c);
    return rc;
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

int kube_config_load(const char *path, const char *context, struct kube_config **out, struct err *e)
{
    *out = NULL;
    if (path && path[0])
        return kube_config_from_file(path, context, out, e);
    const char *env = getenv("KUBECONFIG");
    if (env && env[0]) {
        /* A list "a:b:c": controller-runtime merges them; we take the first non-empty entry. */
        const char *colon = strchr(env, ':');
        const char *start = env;
        while (colon == start) { /* skip empty leading entries */
            start = colon + 1;
            colon = strchr(start, ':');
        }
        char *first = colon ? strndup(start, (size_t)(colon - start)) : strdup(start);
        if (first == NULL)
            return err_set(e, ERR_NOMEM, "out of memory");
        int rc = first[0] ? kube_config_from_file(first, context, out, e)
                          : err_set(e, ERR_INVALID, "KUBECONFIG=\"%s\" names no file", env);
        free(first);
        return rc;
    }
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    if (host && host[0] && port && port[0])
        return kube_config_in_cluster(NULL, out, e);
    const char *home = getenv("HOME");
    if (home && home[0]) {
        struct buf b = {0};
        buf_printf(&b, "%s/.kube/config", home);
        char *p = buf_steal(&b);
        if (p == NULL)
            return err_set(e, ERR_NOMEM, "out of memory");
        int rc = file_exists(p) ? kube_config_from_file(p, context, out, e)
                                : err_set(e, ERR_INVALID,
                                          "no Kubernetes config: pass --kubeconfig, set "
                                          "KUBECONFIG, run in a pod, or create %s",
                                          p);
        free(p);
        return rc;
    }
    return err_set(e, ERR_INVALID,
                   "no Kubernetes config: pass --kubeconfig, set KUBECONFIG or run in a pod");
}

void kube_config_token_invalidate(struct kube_config *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    c->token_loaded = 0;
    pthread_mutex_unlock(&c->mu);
}

/* Caller holds c->mu. Re-reads token_file when its identity changed or it was never read. */
static int refresh_token_locked(struct kube_config *c, struct err *e)
{
    struct stat st;
    if (stat(c->token_file, &st) != 0) {
        if (c->cached_token) { /* mid-rotation (symlink swap): keep the old one for now */
            log_warn("cannot stat the token file, keeping the previous token", "file",
                     c->token_file, "error", strerror(errno));
            return 0;
        }
        return err_set(e, ERR_IO, "%s: %s", c->token_file, strerror(errno));
    }
    if (c->token_loaded && st.st_mtim.tv_sec == c->token_mtime.tv_sec &&
        st.st_mtim.tv_nsec == c->token_mtime.tv_nsec && (long long)st.st_size == c->token_size &&
        (unsigned long long)st.st_ino == c->token_ino)
        return 0;
    char *text = NULL;
    struct err fe = {0};
    int rc = read_file(c->token_file, KC_MAX_TOKEN, &text, NULL, &fe);
    if (rc != 0) {
        if (c->cached_token) {
            log_warn("cannot read the token file, keeping the previous token", "file",
                     c->token_file, "error", fe.msg);
            return 0;
        }
        return err_set(e, rc, "%s", fe.msg);
    }
    char *t = trim(text);
    char *nt = strdup(t);
    explicit_bzero(text, strlen(text));
    free(text);
    if (nt == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    if (c->cached_token) {
        explicit_bzero(c->cached_token, strlen(c->cached_token));
        free(c->cached_token);
    }
    c->cached_token = nt;
    c->token_mtime = st.st_mtim;
    c->token_size = (long long)st.st_size;
    c->token_ino = (unsigned long long)st.st_ino;
    c->token_loaded = 1;
    return 0;
}

int kube_config_bearer(struct kube_config *c, char *out, size_t n, struct err *e)
{
    if (out == NULL || n == 0)
        return err_set(e, ERR_INVALID, "kube_config_bearer: no output buffer");
    out[0] = '\0';
    if (c == NULL)
        return err_set(e, ERR_INVALID, "kube_config_bearer: no config");
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    const char *tok = c->token;
    if (c->token_file) {
        rc = refresh_token_locked(c, e);
        if (rc == 0)
            tok = c->cached_token;
    }
    if (rc == 0 && tok) {
        size_t l = strlen(tok);
        if (l >= n)
            rc = err_set(e, ERR_INVALID, "bearer token longer than %zu bytes", n - 1);
        else
            memcpy(out, tok, l + 1);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}
