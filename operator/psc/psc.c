/* psc.c — reads a PhysicalStatefulCluster API object into struct psc: applies the
 * same defaults as the CRD schema and rejects what the schema cannot express, with a
 * message naming the field path, what is wrong, and what was found. The input is
 * borrowed and never changed: ballast never edits a user's spec. */
#include "psc/psc.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/num.h"

/* ---- what a JSON value is, for messages ---- */

static const char *json_kind(const cJSON *v)
{
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsBool(v))
        return "a boolean";
    if (cJSON_IsArray(v))
        return "a list";
    if (cJSON_IsObject(v))
        return "an object";
    if (cJSON_IsNull(v))
        return "null";
    return "an unknown value";
}

static int wrong_type(struct err *e, const char *path, const char *want, const cJSON *v)
{
    if (cJSON_IsString(v))
        return err_set(e, ERR_INVALID, "%s: must be %s, got the string \"%.80s\"", path, want,
                       v->valuestring);
    if (cJSON_IsNumber(v))
        return err_set(e, ERR_INVALID, "%s: must be %s, got the number %g", path, want,
                       v->valuedouble);
    return err_set(e, ERR_INVALID, "%s: must be %s, got %s", path, want, json_kind(v));
}

static int nomem(struct err *e, const char *path)
{
    return err_set(e, ERR_NOMEM, "%s: out of memory", path);
}

/* field returns obj[key], treating JSON null as absent: the API server prunes nulls,
 * so a null seen here means "not set", never a value. */
static const cJSON *field(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNull(v) ? NULL : v;
}

/* ---- character classes of the names ballast accepts ---- */

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* DNS-1035 label: what a Service name must be; ballast names Services after the PSC. */
static bool is_dns1035_label(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max || !(s[0] >= 'a' && s[0] <= 'z') || !is_lower_alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_lower_alnum(s[i]) && s[i] != '-')
            return false;
    return true;
}

/* DNS-1123 subdomain: what a StorageClass name must be. */
static bool is_dns_subdomain(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool edge = i == 0 || i == n - 1 || s[i - 1] == '.' || s[i + 1] == '.';
        if (is_lower_alnum(s[i]))
            continue;
        if ((s[i] == '-' || s[i] == '.') && !edge)
            continue;
        return false;
    }
    return true;
}

/* A zone is a label value (topology.kubernetes.io/zone): 1..63 of [A-Za-z0-9-_.],
 * starting and ending alphanumeric. */
static bool is_zone_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

/* IANA service name (container port names): lowercase alphanumerics and single
 * hyphens, at least one letter, at most 15 characters. */
static bool is_port_name(const char *s)
{
    size_t n = strlen(s);
    bool letter = false;
    if (n == 0 || n > PSC_MAX_LISTENER_NAME_LEN || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= 'a' && s[i] <= 'z')
            letter = true;
        else if (s[i] == '-' && s[i + 1] == '-')
            return false;
        else if (!is_lower_alnum(s[i]) && s[i] != '-')
            return false;
    }
    return letter;
}

/* Prometheus metric name: [a-zA-Z_:][a-zA-Z0-9_:]* */
static bool is_metric_name(const char *s)
{
    if (s[0] == '\0' || isdigit((unsigned char)s[0]))
        return false;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != ':')
            return false;
    return true;
}

static bool has_space_or_control(const char *s)
{
    for (const char *p = s; *p; p++)
        if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
            return true;
    return false;
}

static bool has_control(const char *s)
{
    for (const char *p = s; *p; p++)
        if (iscntrl((unsigned char)*p))
            return true;
    return false;
}

/* ---- typed readers: absent -> default, wrong type -> ERR_INVALID ---- */

/* get_string copies obj[key] into *out (owned) or leaves *out NULL when absent. */
static int get_string(const cJSON *obj, const char *key, const char *path, bool required,
                      char **out, struct err *e)
{
    const cJSON *v = field(obj, key);
    if (v == NULL) {
        if (required)
            return err_set(e, ERR_INVALID, "%s: required, but not set", path);
        return 0;
    }
    if (!cJSON_IsString(v) || v->valuestring == NULL)
        return wrong_type(e, path, "a string", v);
    *out = strdup(v->valuestring);
    return *out ? 0 : nomem(e, path);
}

/* int_value reads an integer in [min, max]; JSON has only doubles, so 3.5 is refused. */
static int int_value(const cJSON *v, const char *path, int min, int max, int *out, struct err *e)
{
    if (!cJSON_IsNumber(v))
        return wrong_type(e, path, "an integer", v);
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d))
        return err_set(e, ERR_INVALID, "%s: must be a whole number, got %g", path, d);
    if (d < min)
        return err_set(e, ERR_INVALID, "%s: must be at least %d, got %.15g", path, min, d);
    if (d > max)
        return err_set(e, ERR_INVALID, "%s: must be at most %d, got %.15g", path, max, d);
    return num_json_int(v, path, min, max, out, e);
}

static int get_int(const cJSON *obj, const char *key, const char *path, bool required, int def,
                   int min, int max, int *out, struct err *e)
{
    const cJSON *v = field(obj, key);
    if (v == NULL) {
        if (required)
            return err_set(e, ERR_INVALID, "%s: required, but not set", path);
        *out = def;
        return 0;
    }
    return int_value(v, path, min, max, out, e);
}

static int get_bool(const cJSON *obj, const char *key, const char *path, bool *out, struct err *e)
{
    const cJSON *v = field(obj, key);
    if (v == NULL)
        return 0; /* *out keeps its default */
    if (!cJSON_IsBool(v))
        return wrong_type(e, path, "true or false", v);
    *out = cJSON_IsTrue(v);
    return 0;
}

/* get_object returns obj[key] (borrowed) when it is an object, NULL when absent. */
static int get_object(const cJSON *obj, const char *key, const char *path, bool required,
                      const cJSON **out, struct err *e)
{
    const cJSON *v = field(obj, key);
    *out = NULL;
    if (v == NULL) {
        if (required)
            return err_set(e, ERR_INVALID, "%s: required, but not set", path);
        return 0;
    }
    if (!cJSON_IsObject(v))
        return wrong_type(e, path, "an object", v);
    *out = v;
    return 0;
}

/* ---- metadata ---- */

static int parse_metadata(const cJSON *obj, struct psc *p, struct err *e)
{
    const cJSON *md;
    int rc = get_object(obj, "metadata", "metadata", true, &md, e);
    if (rc < 0)
        return rc;
    if ((rc = get_string(md, "name", "metadata.name", true, &p->name, e)) < 0)
        return rc;
    if (!is_dns1035_label(p->name, PSC_MAX_NAME_LEN))
        return err_set(e, ERR_INVALID,
                       "metadata.name: must be a DNS-1035 label of at most %d characters "
                       "(lowercase letters, digits and '-', starting with a letter) so that "
                       "member Services and volumes can be named after it, got \"%.80s\"",
                       PSC_MAX_NAME_LEN, p->name);
    if ((rc = get_string(md, "namespace", "metadata.namespace", false, &p->ns, e)) < 0 ||
        (rc = get_string(md, "uid", "metadata.uid", false, &p->uid, e)) < 0 ||
        (rc = get_string(md, "resourceVersion", "metadata.resourceVersion", false,
                         &p->resource_version, e)) < 0)
        return rc;
    const char *empty = "";
    char **fill[] = {&p->ns, &p->uid, &p->resource_version};
    for (size_t i = 0; i < sizeof fill / sizeof fill[0]; i++) {
        if (*fill[i] == NULL && (*fill[i] = strdup(empty)) == NULL)
            return nomem(e, "metadata");
    }

    const cJSON *gen = field(md, "generation");
    if (gen != NULL) {
        int64_t g;
        /* 2^53: past it a double no longer counts one by one */
        if (num_json_i64(gen, "metadata.generation", 0, INT64_C(9007199254740992), &g, NULL) != 0)
            return wrong_type(e, "metadata.generation", "a non-negative integer", gen);
        p->generation = (long long)g;
    }

    const cJSON *ann;
    if ((rc = get_object(md, "annotations", "metadata.annotations", false, &ann, e)) < 0)
        return rc;
    if (ann == NULL)
        return 0;
    if ((rc = get_string(ann, PSC_ANN_RESTART, "metadata.annotations[\"" PSC_ANN_RESTART "\"]",
                         false, &p->restart_token, e)) < 0)
        return rc;
    char *paused = NULL;
    const char *ppath = "metadata.annotations[\"" PSC_ANN_PAUSED "\"]";
    if ((rc = get_string(ann, PSC_ANN_PAUSED, ppath, false, &paused, e)) < 0)
        return rc;
    if (paused != NULL) {
        /* Anything but true/false is refused: a typo such as "yes" must not let a
         * cluster its owner meant to freeze go on rolling. */
        if (strcmp(paused, "true") == 0)
            p->paused = true;
        else if (strcmp(paused, "false") != 0)
            rc = err_set(e, ERR_INVALID, "%s: must be \"true\" or \"false\", got \"%.80s\"", ppath,
                         paused);
        free(paused);
    }
    return rc;
}

/* ---- spec ---- */

static int cmp_kv(const void *a, const void *b)
{
    return strcmp(((const struct psc_kv *)a)->key, ((const struct psc_kv *)b)->key);
}

static int cmp_listener(const void *a, const void *b)
{
    return strcmp(((const struct psc_listener *)a)->name, ((const struct psc_listener *)b)->name);
}

/* What ballast renders for every member itself: set through spec.config, it would give
 * two brokers one id, or a broker a quorum, listener or directory the others don't know. */
static const char *const owned_keys[] = {"node.id",
                                         "broker.id",
                                         "broker.rack",
                                         "process.roles",
                                         "listeners",
                                         "advertised.listeners",
                                         "listener.security.protocol.map",
                                         "inter.broker.listener.name",
                                         "controller.listener.names",
                                         "controller.quorum.voters",
                                         "controller.quorum.bootstrap.servers",
                                         "log.dirs",
                                         "log.dir",
                                         "metadata.log.dir",
                                         NULL};

bool psc_config_owned(const char *key)
{
    for (int i = 0; owned_keys[i] != NULL; i++)
        if (strcmp(key, owned_keys[i]) == 0)
            return true;
    return false;
}

static int parse_config(const cJSON *spec, struct psc_spec *s, struct err *e)
{
    const cJSON *cfg;
    int rc = get_object(spec, "config", "spec.config", false, &cfg, e);
    if (rc < 0 || cfg == NULL)
        return rc;
    int n = cJSON_GetArraySize(cfg);
    if (n == 0)
        return 0;
    s->config = calloc((size_t)n, sizeof *s->config);
    if (s->config == NULL)
        return nomem(e, "spec.config");
    const cJSON *v;
    cJSON_ArrayForEach(v, cfg)
    {
        const char *key = v->string ? v->string : "";
        if (key[0] == '\0')
            return err_set(e, ERR_INVALID, "spec.config: keys must not be empty, got \"\"");
        if (!cJSON_IsString(v) || v->valuestring == NULL) {
            char path[256];
            snprintf(path, sizeof path, "spec.config[\"%.200s\"]", key);
            if (cJSON_IsNumber(v))
                return err_set(e, ERR_INVALID,
                               "%s: must be a string, got the number %g; quote it: \"%g\"", path,
                               v->valuedouble, v->valuedouble);
            if (cJSON_IsBool(v))
                return err_set(
                    e, ERR_INVALID, "%s: must be a string, got the boolean %s; quote it: \"%s\"",
                    path, cJSON_IsTrue(v) ? "true" : "false", cJSON_IsTrue(v) ? "true" : "false");
            return wrong_type(e, path, "a string", v);
        }
        /* Both end up in a properties file: a line break or '=' in a key, or a line
         * break in a value, would smuggle in keys of its own. */
        if (has_space_or_control(key) || strpbrk(key, "=:") != NULL)
            return err_set(e, ERR_INVALID,
                           "spec.config[\"%.200s\"]: keys must not contain spaces, line breaks, "
                           "'=' or ':'",
                           key);
        if (has_control(v->valuestring))
            return err_set(e, ERR_INVALID,
                           "spec.config[\"%.200s\"]: the value must be one line without control "
                           "characters",
                           key);
        if (psc_config_owned(key))
            return err_set(e, ERR_INVALID,
                           "spec.config[\"%.200s\"]: ballast sets this key itself for every "
                           "member (identity, listeners, KRaft quorum, log directory); remove it",
                           key);
        struct psc_kv *kv = &s->config[s->nconfig];
        kv->key = strdup(key);
        kv->value = strdup(v->valuestring);
        s->nconfig++;
        if (kv->key == NULL || kv->value == NULL)
            return nomem(e, "spec.config");
    }
    qsort(s->config, (size_t)s->nconfig, sizeof *s->config, cmp_kv);
    for (int i = 1; i < s->nconfig; i++)
        if (strcmp(s->config[i - 1].key, s->config[i].key) == 0)
            return err_set(e, ERR_INVALID, "spec.config[\"%.200s\"]: key appears more than once",
                           s->config[i].key);
    return 0;
}

static int parse_zones(const cJSON *spec, struct psc_spec *s, struct err *e)
{
    const cJSON *z = field(spec, "zones");
    if (z == NULL)
        return 0;
    if (!cJSON_IsArray(z))
        return wrong_type(e, "spec.zones", "a list of zone names", z);
    int n = cJSON_GetArraySize(z);
    if (n == 0)
        return 0; /* [] says what omitting it says: every zone the nodes carry */
    if (n > PSC_MAX_ZONES)
        return err_set(e, ERR_INVALID, "spec.zones: at most %d zones, got %d", PSC_MAX_ZONES, n);
    s->zones = calloc((size_t)n, sizeof *s->zones);
    if (s->zones == NULL)
        return nomem(e, "spec.zones");
    const cJSON *v;
    cJSON_ArrayForEach(v, z)
    {
        char path[64];
        snprintf(path, sizeof path, "spec.zones[%d]", s->nzones);
        if (!cJSON_IsString(v) || v->valuestring == NULL)
            return wrong_type(e, path, "a zone name (a string)", v);
        if (!is_zone_name(v->valuestring))
            return err_set(e, ERR_INVALID,
                           "%s: must be a zone name as nodes carry it in "
                           "topology.kubernetes.io/zone (1-63 letters, digits, '-', '_' or '.', "
                           "starting and ending with a letter or digit), got \"%.80s\"",
                           path, v->valuestring);
        for (int i = 0; i < s->nzones; i++)
            if (strcmp(s->zones[i], v->valuestring) == 0)
                return err_set(e, ERR_INVALID, "%s: zone \"%s\" is listed twice (also at [%d])",
                               path, v->valuestring, i);
        if ((s->zones[s->nzones] = strdup(v->valuestring)) == NULL)
            return nomem(e, path);
        s->nzones++;
    }
    return 0;
}

/* check_quantity_map validates resources.requests / resources.limits values. */
static int check_quantity_map(const cJSON *res, const char *key, struct err *e)
{
    char path[256];
    snprintf(path, sizeof path, "spec.resources.%s", key);
    const cJSON *m;
    int rc = get_object(res, key, path, false, &m, e);
    if (rc < 0 || m == NULL)
        return rc;
    const cJSON *v;
    cJSON_ArrayForEach(v, m)
    {
        snprintf(path, sizeof path, "spec.resources.%s.%.100s", key, v->string ? v->string : "");
        long long q;
        if (cJSON_IsNumber(v)) {
            if (!isfinite(v->valuedouble) || v->valuedouble < 0)
                return err_set(e, ERR_INVALID, "%s: must be a non-negative quantity, got %g", path,
                               v->valuedouble);
            continue;
        }
        if (!cJSON_IsString(v) || v->valuestring == NULL)
            return wrong_type(e, path, "a quantity such as \"2\", \"500m\" or \"8Gi\"", v);
        if ((rc = psc_parse_quantity(v->valuestring, &q, e)) < 0)
            return err_prefix(e, "%s", path);
    }
    return 0;
}

static int parse_resources(const cJSON *spec, struct psc_spec *s, struct err *e)
{
    const cJSON *res;
    int rc = get_object(spec, "resources", "spec.resources", false, &res, e);
    if (rc < 0 || res == NULL)
        return rc;
    if ((rc = check_quantity_map(res, "requests", e)) < 0 ||
        (rc = check_quantity_map(res, "limits", e)) < 0)
        return rc;
    s->resources = cJSON_Duplicate(res, true);
    return s->resources ? 0 : nomem(e, "spec.resources");
}

static int parse_storage(const cJSON *spec, struct psc_spec *s, struct err *e)
{
    const cJSON *st;
    int rc = get_object(spec, "storage", "spec.storage", true, &st, e);
    if (rc < 0)
        return rc;
    const cJSON *size = field(st, "size");
    if (size == NULL)
        return err_set(e, ERR_INVALID,
                       "spec.storage.size: required, but not set (the size of each member's "
                       "volume, e.g. 100Gi)");
    if (cJSON_IsNumber(size)) {
        /* x-kubernetes-int-or-string: the server keeps a bare integer as a number. */
        int64_t bytes;
        if (num_json_i64(size, "spec.storage.size", 0, INT64_MAX, &bytes, NULL) != 0)
            return err_set(e, ERR_INVALID,
                           "spec.storage.size: must be a whole number of bytes "
                           "or a quantity such as 100Gi, got %g",
                           size->valuedouble);
        char tmp[32];
        snprintf(tmp, sizeof tmp, "%lld", (long long)bytes);
        s->storage_size = strdup(tmp);
    } else if (cJSON_IsString(size) && size->valuestring != NULL) {
        s->storage_size = strdup(size->valuestring);
    } else {
        return wrong_type(e, "spec.storage.size", "a quantity such as \"100Gi\"", size);
    }
    if (s->storage_size == NULL)
        return nomem(e, "spec.storage.size");
    if ((rc = psc_parse_quantity(s->storage_size, &s->storage_bytes, e)) < 0)
        return err_prefix(e, "spec.storage.size");
    if (s->storage_bytes <= 0)
        return err_set(e, ERR_INVALID, "spec.storage.size: must be greater than zero, got \"%s\"",
                       s->storage_size);

    if ((rc = get_string(st, "storageClassName", "spec.storage.storageClassName", false,
                         &s->storage_class, e)) < 0)
        return rc;
    /* "" is kept: in a PVC it means "no class" (static volumes), not the default. */
    if (s->storage_class != NULL && s->storage_class[0] != '\0' &&
        !is_dns_subdomain(s->storage_class))
        return err_set(e, ERR_INVALID,
                       "spec.storage.storageClassName: must be a StorageClass name (lowercase "
                       "letters, digits, '-' and '.'), got \"%.80s\"",
                       s->storage_class);
    return get_bool(st, "deleteClaimOnScaleDown", "spec.storage.deleteClaimOnScaleDown",
                    &s->delete_claim_on_scale_down, e);
}

static int parse_listeners(const cJSON *spec, struct psc_spec *s, struct err *e)
{
    const cJSON *ls;
    int rc = get_object(spec, "listeners", "spec.listeners", false, &ls, e);
    if (rc < 0)
        return rc;
    if (ls == NULL) {
        s->listeners = calloc(1, sizeof *s->listeners);
        if (s->listeners == NULL ||
            (s->listeners[0].name = strdup(PSC_DEFAULT_LISTENER_NAME)) == NULL)
            return nomem(e, "spec.listeners");
        s->listeners[0].port = PSC_DEFAULT_LISTENER_PORT;
        s->nlisteners = 1;
        return 0;
    }
    int n = cJSON_GetArraySize(ls);
    if (n == 0)
        return err_set(e, ERR_INVALID,
                       "spec.listeners: must name at least one listener, e.g. "
                       "{client: 9092}, got {} (omit the field for that default)");
    if (n > PSC_MAX_LISTENERS)
        return err_set(e, ERR_INVALID, "spec.listeners: at most %d listeners, got %d",
                       PSC_MAX_LISTENERS, n);
    s->listeners = calloc((size_t)n, sizeof *s->listeners);
    if (s->listeners == NULL)
        return nomem(e, "spec.listeners");
    const cJSON *v;
    cJSON_ArrayForEach(v, ls)
    {
        const char *name = v->string ? v->string : "";
        char path[128];
        snprintf(path, sizeof path, "spec.listeners.%.60s", name);
        if (!is_port_name(name))
            return err_set(e, ERR_INVALID,
                           "%s: the listener name must be a port name (1-%d lowercase letters, "
                           "digits and single '-', with at least one letter), got \"%.60s\"",
                           path, PSC_MAX_LISTENER_NAME_LEN, name);
        if (strcmp(name, PSC_REPLICATION_LISTENER) == 0 ||
            strcmp(name, PSC_CONTROLLER_LISTENER) == 0)
            return err_set(e, ERR_INVALID,
                           "%s: the name is reserved: ballast adds the listeners \"%s\" (port "
                           "%d) and \"%s\" (port %d) for replication and the KRaft quorum",
                           path, PSC_REPLICATION_LISTENER, PSC_REPLICATION_PORT,
                           PSC_CONTROLLER_LISTENER, PSC_CONTROLLER_PORT);
        struct psc_listener *l = &s->listeners[s->nlisteners];
        if ((rc = int_value(v, path, 1, 65535, &l->port, e)) < 0)
            return rc;
        if (l->port == PSC_REPLICATION_PORT || l->port == PSC_CONTROLLER_PORT)
            return err_set(e, ERR_INVALID,
                           "%s: port %d is reserved for ballast's %s listener; choose another "
                           "port",
                           path, l->port,
                           l->port == PSC_REPLICATION_PORT ? PSC_REPLICATION_LISTENER
                                                           : PSC_CONTROLLER_LISTENER);
        if ((l->name = strdup(name)) == NULL)
            return nomem(e, path);
        s->nlisteners++;
        for (int i = 0; i < s->nlisteners - 1; i++) {
            if (strcmp(s->listeners[i].name, name) == 0)
                return err_set(e, ERR_INVALID, "%s: listener appears more than once", path);
            if (s->listeners[i].port == l->port)
                return err_set(e, ERR_INVALID, "%s: port %d is already used by listener %s", path,
                               l->port, s->listeners[i].name);
        }
    }
    qsort(s->listeners, (size_t)s->nlisteners, sizeof *s->listeners, cmp_listener);
    return 0;
}

static int set_default_gates(struct psc_spec *s, struct err *e)
{
    static const char *const defaults[] = {PSC_DEFAULT_GATE_URP, PSC_DEFAULT_GATE_OFFLINE};
    s->gates = calloc(2, sizeof *s->gates);
    if (s->gates == NULL)
        return nomem(e, "spec.health.gates");
    for (int i = 0; i < 2; i++) {
        if ((s->gates[i].metric = strdup(defaults[i])) == NULL)
            return nomem(e, "spec.health.gates");
        s->gates[i].max = 0;
        /* only the KRaft controllers report offline partitions; brokers above the quorum
         * do not */
        s->gates[i].optional = strcmp(defaults[i], PSC_DEFAULT_GATE_OFFLINE) == 0;
        s->ngates++;
    }
    return 0;
}

static int parse_gates(const cJSON *health, struct psc_spec *s, struct err *e)
{
    const cJSON *g = field(health, "gates");
    if (g == NULL)
        return set_default_gates(s, e);
    if (!cJSON_IsArray(g))
        return wrong_type(e, "spec.health.gates", "a list of {metric, max, optional}", g);
    int n = cJSON_GetArraySize(g);
    if (n == 0)
        return err_set(e, ERR_INVALID,
                       "spec.health.gates: must list at least one gate, got []; omit the field "
                       "for the default gates (no under-replicated or offline partitions)");
    if (n > PSC_MAX_GATES)
        return err_set(e, ERR_INVALID, "spec.health.gates: at most %d gates, got %d", PSC_MAX_GATES,
                       n);
    s->gates = calloc((size_t)n, sizeof *s->gates);
    if (s->gates == NULL)
        return nomem(e, "spec.health.gates");
    const cJSON *v;
    cJSON_ArrayForEach(v, g)
    {
        char path[96], mpath[112];
        int i = s->ngates;
        snprintf(path, sizeof path, "spec.health.gates[%d]", i);
        if (!cJSON_IsObject(v))
            return wrong_type(e, path, "an object {metric, max, optional}", v);
        snprintf(mpath, sizeof mpath, "%s.metric", path);
        int rc = get_string(v, "metric", mpath, true, &s->gates[i].metric, e);
        s->ngates++; /* counted now so psc_free frees a metric read before an error */
        if (rc < 0)
            return rc;
        if (!is_metric_name(s->gates[i].metric))
            return err_set(e, ERR_INVALID,
                           "%s: must be a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), "
                           "got \"%.80s\"",
                           mpath, s->gates[i].metric);
        for (int j = 0; j < i; j++)
            if (strcmp(s->gates[j].metric, s->gates[i].metric) == 0)
                return err_set(e, ERR_INVALID, "%s: metric %s already has a gate at [%d]", mpath,
                               s->gates[i].metric, j);
        snprintf(mpath, sizeof mpath, "%s.max", path);
        const cJSON *max = field(v, "max");
        if (max == NULL)
            return err_set(e, ERR_INVALID,
                           "%s: required, but not set (the gate holds while the metric, summed "
                           "over its series, is at most max)",
                           mpath);
        if (!cJSON_IsNumber(max) || !isfinite(max->valuedouble))
            return wrong_type(e, mpath, "a number", max);
        s->gates[i].max = max->valuedouble;
        snprintf(mpath, sizeof mpath, "%s.optional", path);
        if ((rc = get_bool(v, "optional", mpath, &s->gates[i].optional, e)) < 0)
            return rc;
    }
    return 0;
}

static int parse_health(const cJSON *spec, struct psc_spec *s, struct err *e)
{
    const cJSON *h;
    int rc = get_object(spec, "health", "spec.health", false, &h, e);
    if (rc < 0)
        return rc;
    /* h may be NULL: every reader below then yields its default. */
    if ((rc = get_int(h, "metricsPort", "spec.health.metricsPort", false, PSC_DEFAULT_METRICS_PORT,
                      1, 65535, &s->metrics_port, e)) < 0)
        return rc;
    for (int i = 0; i < s->nlisteners; i++)
        if (s->listeners[i].port == s->metrics_port)
            return err_set(e, ERR_INVALID,
                           "spec.health.metricsPort: port %d is already used by listener %s; "
                           "the metrics endpoint needs a port of its own",
                           s->metrics_port, s->listeners[i].name);
    if (s->metrics_port == PSC_REPLICATION_PORT || s->metrics_port == PSC_CONTROLLER_PORT)
        return err_set(e, ERR_INVALID,
                       "spec.health.metricsPort: port %d is reserved for ballast's %s listener",
                       s->metrics_port,
                       s->metrics_port == PSC_REPLICATION_PORT ? PSC_REPLICATION_LISTENER
                                                               : PSC_CONTROLLER_LISTENER);
    if ((rc = get_string(h, "metricsPath", "spec.health.metricsPath", false, &s->metrics_path, e)) <
        0)
        return rc;
    if (s->metrics_path == NULL && (s->metrics_path = strdup(PSC_DEFAULT_METRICS_PATH)) == NULL)
        return nomem(e, "spec.health.metricsPath");
    if (s->metrics_path[0] != '/' || has_space_or_control(s->metrics_path))
        return err_set(e, ERR_INVALID,
                       "spec.health.metricsPath: must be a URL path starting with '/' and "
                       "without spaces, got \"%.80s\"",
                       s->metrics_path);
    if ((rc = parse_gates(h, s, e)) < 0)
        return rc;
    if ((rc = get_string(h, "drainedMetric", "spec.health.drainedMetric", false, &s->drained_metric,
                         e)) < 0)
        return rc;
    if (s->drained_metric == NULL &&
        (s->drained_metric = strdup(PSC_DEFAULT_DRAINED_METRIC)) == NULL)
        return nomem(e, "spec.health.drainedMetric");
    if (!is_metric_name(s->drained_metric))
        return err_set(e, ERR_INVALID,
                       "spec.health.drainedMetric: must be a Prometheus metric name "
                       "([a-zA-Z_:][a-zA-Z0-9_:]*), got \"%.80s\"",
                       s->drained_metric);
    return get_int(h, "rollTimeoutSeconds", "spec.health.rollTimeoutSeconds", false,
                   PSC_DEFAULT_ROLL_TIMEOUT, 1, PSC_MAX_ROLL_TIMEOUT, &s->roll_timeout_seconds, e);
}

static int parse_spec(const cJSON *obj, struct psc_spec *s, struct err *e)
{
    const cJSON *spec;
    int rc = get_object(obj, "spec", "spec", true, &spec, e);
    if (rc < 0)
        return rc;
    if ((rc = get_int(spec, "replicas", "spec.replicas", true, 0, 1, PSC_MAX_REPLICAS, &s->replicas,
                      e)) < 0)
        return rc;
    if ((rc = get_string(spec, "image", "spec.image", true, &s->image, e)) < 0)
        return rc;
    if (s->image[0] == '\0' || has_space_or_control(s->image))
        return err_set(e, ERR_INVALID,
                       "spec.image: must be a container image reference such as "
                       "apache/kafka:3.9.0, got \"%.80s\"",
                       s->image);
    if ((rc = parse_zones(spec, s, e)) < 0 || (rc = parse_config(spec, s, e)) < 0 ||
        (rc = parse_resources(spec, s, e)) < 0 || (rc = parse_storage(spec, s, e)) < 0 ||
        (rc = parse_listeners(spec, s, e)) < 0 || (rc = parse_health(spec, s, e)) < 0)
        return rc;
    if ((rc = get_int(spec, "terminationGracePeriodSeconds", "spec.terminationGracePeriodSeconds",
                      false, PSC_DEFAULT_GRACE_SECONDS, 1, PSC_MAX_GRACE_SECONDS, &s->grace_seconds,
                      e)) < 0)
        return rc;
    return get_bool(spec, "paused", "spec.paused", &s->paused, e);
}

int psc_parse(const cJSON *obj, struct psc **out, struct err *e)
{
    *out = NULL;
    if (!cJSON_IsObject(obj))
        return wrong_type(e, "object", "a " PSC_KIND " object", obj);
    const cJSON *kind = field(obj, "kind");
    if (kind != NULL && (!cJSON_IsString(kind) || strcmp(kind->valuestring, PSC_KIND) != 0))
        return cJSON_IsString(kind) ? err_set(e, ERR_INVALID, "kind: must be %s, got \"%.80s\"",
                                              PSC_KIND, kind->valuestring)
                                    : wrong_type(e, "kind", "the string " PSC_KIND, kind);

    struct psc *p = calloc(1, sizeof *p);
    if (p == NULL)
        return nomem(e, "psc");
    int rc = parse_metadata(obj, p, e);
    if (rc == 0)
        rc = parse_spec(obj, &p->spec, e);
    if (rc == 0) {
        p->paused = p->paused || p->spec.paused;
        const cJSON *st = field(obj, "status");
        if (st != NULL && !cJSON_IsObject(st))
            rc = wrong_type(e, "status", "an object", st);
        else if (st != NULL && (p->status = cJSON_Duplicate(st, true)) == NULL)
            rc = nomem(e, "status");
    }
    if (rc < 0) {
        psc_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void psc_free(struct psc *p)
{
    if (p == NULL)
        return;
    struct psc_spec *s = &p->spec;
    free(s->image);
    for (int i = 0; i < s->nzones; i++)
        free(s->zones[i]);
    free(s->zones);
    for (int i = 0; i < s->nconfig; i++) {
        free(s->config[i].key);
        free(s->config[i].value);
    }
    free(s->config);
    cJSON_Delete(s->resources);
    free(s->storage_size);
    free(s->storage_class);
    for (int i = 0; i < s->nlisteners; i++)
        free(s->listeners[i].name);
    free(s->listeners);
    free(s->metrics_path);
    for (int i = 0; i < s->ngates; i++)
        free(s->gates[i].metric);
    free(s->gates);
    free(s->drained_metric);
    free(p->name);
    free(p->ns);
    free(p->uid);
    free(p->resource_version);
    free(p->restart_token);
    cJSON_Delete(p->status);
    free(p);
}

const char *psc_config_get(const struct psc *p, const char *key)
{
    if (p == NULL || key == NULL)
        return NULL;
    struct psc_kv k = {.key = (char *)key};
    const struct psc_kv *kv =
        p->spec.nconfig > 0
            ? bsearch(&k, p->spec.config, (size_t)p->spec.nconfig, sizeof *p->spec.config, cmp_kv)
            : NULL;
    return kv ? kv->value : NULL;
}
