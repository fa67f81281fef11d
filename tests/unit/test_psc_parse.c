/* test_psc_parse.c — psc_parse on the design's example, the shipped samples
 * (the YAML files in crds/samples, read from BALLAST_SOURCE_DIR), defaults, and a table of invalid
 * objects whose messages must name the field; plus wrong types at every node. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "psc/psc.h"

/* The PSC of DESIGN.md, as the API server would return it. */
static const char *ORDERS_JSON =
    "{\"apiVersion\":\"ballast.dev/v1alpha1\",\"kind\":\"PhysicalStatefulCluster\","
    "\"metadata\":{\"name\":\"orders\",\"namespace\":\"streaming\",\"uid\":\"u-1\","
    "\"resourceVersion\":\"42\",\"generation\":4,"
    "\"annotations\":{\"ballast.dev/restart\":\"2026-11-24\"}},"
    "\"spec\":{\"replicas\":6,\"image\":\"apache/kafka:3.9.0\","
    "\"zones\":[\"us-west-2a\",\"us-west-2b\",\"us-west-2c\"],"
    "\"config\":{\"num.partitions\":\"6\",\"auto.create.topics.enable\":\"false\"},"
    "\"resources\":{\"requests\":{\"cpu\":\"2\",\"memory\":\"8Gi\"}},"
    "\"storage\":{\"size\":\"100Gi\",\"storageClassName\":\"zonal-ssd\","
    "\"deleteClaimOnScaleDown\":false},"
    "\"listeners\":{\"client\":9092,\"external\":9094},"
    "\"health\":{\"metricsPort\":9404,\"metricsPath\":\"/metrics\",\"gates\":["
    "{\"metric\":\"kafka_server_replicamanager_underreplicatedpartitions\",\"max\":0},"
    "{\"metric\":\"kafka_controller_kafkacontroller_offlinepartitionscount\",\"max\":0}],"
    "\"rollTimeoutSeconds\":900},\"paused\":false},"
    "\"status\":{\"observedGeneration\":4,\"replicas\":6,\"readyReplicas\":6,"
    "\"currentRevision\":\"7c9f2d1\",\"updateRevision\":\"7c9f2d1\","
    "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}";

static const char *MINIMAL_JSON =
    "{\"apiVersion\":\"ballast.dev/v1alpha1\",\"kind\":\"PhysicalStatefulCluster\","
    "\"metadata\":{\"name\":\"minimal\",\"namespace\":\"ns\"},"
    "\"spec\":{\"replicas\":3,\"image\":\"apache/kafka:3.9.0\",\"storage\":{\"size\":\"10Gi\"}}}";

static cJSON *parse_json(const char *text)
{
    cJSON *j = cJSON_Parse(text);
    ck_assert_msg(j != NULL, "test JSON does not parse: %s", text);
    return j;
}

/* ---- a small YAML -> cJSON reader for the samples (YAML 1.2 core schema) ---- */

static cJSON *yaml_scalar(const yaml_node_t *n)
{
    const char *v = (const char *)n->data.scalar.value;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return cJSON_CreateString(v);
    if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
        return cJSON_CreateBool(strcmp(v, "true") == 0);
    if (v[0] == '\0' || strcmp(v, "null") == 0 || strcmp(v, "~") == 0)
        return cJSON_CreateNull();
    char *end;
    double d = strtod(v, &end);
    if (*end == '\0' && end != v && strspn(v, "+-0123456789.eE") == strlen(v))
        return cJSON_CreateNumber(d);
    return cJSON_CreateString(v);
}

static cJSON *yaml_node(yaml_document_t *doc, yaml_node_t *n, int depth)
{
    ck_assert_int_lt(depth, 64);
    if (n->type == YAML_SCALAR_NODE)
        return yaml_scalar(n);
    if (n->type == YAML_SEQUENCE_NODE) {
        cJSON *a = cJSON_CreateArray();
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
             it++)
            cJSON_AddItemToArray(a, yaml_node(doc, yaml_document_get_node(doc, *it), depth + 1));
        return a;
    }
    cJSON *o = cJSON_CreateObject();
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        ck_assert_int_eq(k->type, YAML_SCALAR_NODE);
        cJSON_AddItemToObject(o, (const char *)k->data.scalar.value,
                              yaml_node(doc, yaml_document_get_node(doc, p->value), depth + 1));
    }
    return o;
}

/* load_yaml reads a YAML file of the source tree (path relative to its root). */
static cJSON *load_yaml(const char *rel)
{
    /* Without BALLAST_SOURCE_DIR, find the tree from this file's own path. */
    const char *src = getenv("BALLAST_SOURCE_DIR");
    char root[4096];
    if (src != NULL) {
        snprintf(root, sizeof root, "%s", src);
    } else {
        snprintf(root, sizeof root, "%s", __FILE__);
        char *cut = strstr(root, "/tests/unit/");
        if (cut != NULL)
            *cut = '\0';
        else
            snprintf(root, sizeof root, ".");
    }
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s (set BALLAST_SOURCE_DIR)", path);
    yaml_parser_t parser;
    yaml_document_t doc;
    ck_assert(yaml_parser_initialize(&parser));
    yaml_parser_set_input_file(&parser, f);
    ck_assert_msg(yaml_parser_load(&parser, &doc), "%s: YAML error: %s", path,
                  parser.problem ? parser.problem : "?");
    yaml_node_t *top = yaml_document_get_root_node(&doc);
    ck_assert_msg(top != NULL, "%s: empty document", path);
    cJSON *j = yaml_node(&doc, top, 0);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(f);
    return j;
}

static cJSON *load_sample(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "crds/samples/%s", name);
    return load_yaml(rel);
}

/* ---- valid objects ---- */

START_TEST(test_design_example)
{
    cJSON *j = parse_json(ORDERS_JSON);
    char *before = cJSON_PrintUnformatted(j);
    struct psc *p = NULL;
    struct err e = {0};
    ck_assert_msg(psc_parse(j, &p, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(p->name, "orders");
    ck_assert_str_eq(p->ns, "streaming");
    ck_assert_str_eq(p->uid, "u-1");
    ck_assert_str_eq(p->resource_version, "42");
    ck_assert_int_eq(p->generation, 4);
    ck_assert_str_eq(p->restart_token, "2026-11-24");
    ck_assert(!p->paused);
    const struct psc_spec *s = &p->spec;
    ck_assert_int_eq(s->replicas, 6);
    ck_assert_str_eq(s->image, "apache/kafka:3.9.0");
    ck_assert_int_eq(s->nzones, 3);
    ck_assert_str_eq(s->zones[0], "us-west-2a");
    ck_assert_str_eq(s->zones[2], "us-west-2c");
    /* config sorted by key */
    ck_assert_int_eq(s->nconfig, 2);
    ck_assert_str_eq(s->config[0].key, "auto.create.topics.enable");
    ck_assert_str_eq(s->config[1].key, "num.partitions");
    ck_assert_str_eq(s->config[1].value, "6");
    ck_assert_str_eq(psc_config_get(p, "num.partitions"), "6");
    ck_assert_ptr_null(psc_config_get(p, "nope"));
    ck_assert_ptr_nonnull(s->resources);
    ck_assert_str_eq(
        cJSON_GetObjectItem(cJSON_GetObjectItem(s->resources, "requests"), "memory")->valuestring,
        "8Gi");
    ck_assert_str_eq(s->storage_size, "100Gi");
    ck_assert_int_eq(s->storage_bytes, 100LL << 30);
    ck_assert_str_eq(s->storage_class, "zonal-ssd");
    ck_assert(!s->delete_claim_on_scale_down);
    ck_assert_int_eq(s->nlisteners, 2);
    ck_assert_str_eq(s->listeners[0].name, "client");
    ck_assert_int_eq(s->listeners[0].port, 9092);
    ck_assert_str_eq(s->listeners[1].name, "external");
    ck_assert_int_eq(s->metrics_port, 9404);
    ck_assert_str_eq(s->metrics_path, "/metrics");
    ck_assert_int_eq(s->ngates, 2);
    ck_assert_str_eq(s->gates[0].metric, PSC_DEFAULT_GATE_URP);
    ck_assert(s->gates[0].max == 0);
    ck_assert_str_eq(s->drained_metric, PSC_DEFAULT_DRAINED_METRIC);
    ck_assert_int_eq(s->roll_timeout_seconds, 900);
    /* status is an owned copy, not the input's node */
    ck_assert_ptr_nonnull(p->status);
    ck_assert_ptr_ne(p->status, cJSON_GetObjectItem(j, "status"));
    ck_assert(cJSON_Compare(p->status, cJSON_GetObjectItem(j, "status"), true));
    psc_free(p);
    /* the input is untouched, and still valid after p is gone */
    char *after = cJSON_PrintUnformatted(j);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    cJSON_Delete(j);
}
END_TEST

START_TEST(test_defaults)
{
    cJSON *j = parse_json(MINIMAL_JSON);
    struct psc *p = NULL;
    struct err e = {0};
    ck_assert_msg(psc_parse(j, &p, &e) == 0, "%s", e.msg);
    const struct psc_spec *s = &p->spec;
    ck_assert_str_eq(p->uid, "");
    ck_assert_str_eq(p->resource_version, "");
    ck_assert_ptr_null(p->restart_token);
    ck_assert_int_eq(p->generation, 0);
    ck_assert(!p->paused);
    ck_assert_ptr_null(p->status);
    ck_assert_int_eq(s->nzones, 0);
    ck_assert_ptr_null(s->zones);
    ck_assert_int_eq(s->nconfig, 0);
    ck_assert_ptr_null(s->resources);
    ck_assert_ptr_null(s->storage_class);
    ck_assert(!s->delete_claim_on_scale_down);
    ck_assert_int_eq(s->nlisteners, 1);
    ck_assert_str_eq(s->listeners[0].name, "client");
    ck_assert_int_eq(s->listeners[0].port, 9092);
    ck_assert_int_eq(s->metrics_port, 9404);
    ck_assert_str_eq(s->metrics_path, "/metrics");
    ck_assert_int_eq(s->ngates, 2);
    ck_assert_str_eq(s->gates[0].metric, "kafka_server_replicamanager_underreplicatedpartitions");
    ck_assert(s->gates[0].max == 0);
    ck_assert_str_eq(s->gates[1].metric, "kafka_controller_kafkacontroller_offlinepartitionscount");
    ck_assert(s->gates[1].max == 0);
    ck_assert(!s->gates[0].optional && s->gates[1].optional); /* controllers only */
    ck_assert_str_eq(s->drained_metric, "kafka_server_replicamanager_partitioncount");
    ck_assert_int_eq(s->roll_timeout_seconds, 900);
    psc_free(p);
    cJSON_Delete(j);
}
END_TEST

START_TEST(test_samples)
{
    static const struct {
        const char *file, *name;
        int replicas, nzones;
        bool paused;
    } samples[] = {
        {"orders.yaml", "orders", 6, 3, false},
        {"minimal.yaml", "minimal", 3, 0, false},
        {"paused.yaml", "frozen", 3, 3, true},
    };
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        cJSON *j = load_sample(samples[i].file);
        struct psc *p = NULL;
        struct err e = {0};
        ck_assert_msg(psc_parse(j, &p, &e) == 0, "%s: %s", samples[i].file, e.msg);
        ck_assert_str_eq(p->name, samples[i].name);
        ck_assert_str_eq(p->ns, ""); /* samples leave the namespace to kubectl -n */
        ck_assert_int_eq(p->spec.replicas, samples[i].replicas);
        ck_assert_int_eq(p->spec.nzones, samples[i].nzones);
        ck_assert_int_eq(p->paused, samples[i].paused);
        ck_assert_int_eq(p->spec.ngates, 2);
        ck_assert_int_eq(p->spec.metrics_port, 9404);
        psc_free(p);
        cJSON_Delete(j);
    }
    /* orders.yaml is the design's example: same spec as ORDERS_JSON's essentials. */
    cJSON *j = load_sample("orders.yaml");
    struct psc *p = NULL;
    struct err e = {0};
    ck_assert_msg(psc_parse(j, &p, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(p->spec.zones[1], "us-west-2b");
    ck_assert_str_eq(psc_config_get(p, "num.partitions"), "6");
    ck_assert_str_eq(p->spec.storage_class, "zonal-ssd");
    ck_assert_int_eq(p->spec.storage_bytes, 100LL << 30);
    ck_assert_int_eq(p->spec.roll_timeout_seconds, 900);
    psc_free(p);
    cJSON_Delete(j);
}
END_TEST

/* at follows a NULL-terminated list of object keys through a cJSON tree. */
static const cJSON *at(const cJSON *j, const char *const *keys)
{
    for (; *keys && j; keys++)
        j = cJSON_GetObjectItemCaseSensitive(j, *keys);
    ck_assert_msg(j != NULL, "CRD schema has no %s", keys[0] ? keys[0] : "(end)");
    return j;
}

/* The CRD's schema defaults and limits are the ones psc_parse applies. */
START_TEST(test_crd_agrees)
{
    cJSON *crd = load_yaml("crds/ballast.dev_physicalstatefulclusters.yaml");
    const cJSON *v0 = cJSON_GetArrayItem(at(crd, (const char *[]){"spec", "versions", NULL}), 0);
    const cJSON *spec = at(v0, (const char *[]){"schema", "openAPIV3Schema", "properties", "spec",
                                                "properties", NULL});
    const cJSON *health = at(spec, (const char *[]){"health", "properties", NULL});
    ck_assert_int_eq(at(spec, (const char *[]){"replicas", "minimum", NULL})->valueint, 1);
    ck_assert_int_eq(at(spec, (const char *[]){"replicas", "maximum", NULL})->valueint,
                     PSC_MAX_REPLICAS);
    ck_assert_int_eq(at(health, (const char *[]){"metricsPort", "default", NULL})->valueint,
                     PSC_DEFAULT_METRICS_PORT);
    ck_assert_str_eq(at(health, (const char *[]){"metricsPath", "default", NULL})->valuestring,
                     PSC_DEFAULT_METRICS_PATH);
    ck_assert_str_eq(at(health, (const char *[]){"drainedMetric", "default", NULL})->valuestring,
                     PSC_DEFAULT_DRAINED_METRIC);
    ck_assert_int_eq(at(health, (const char *[]){"rollTimeoutSeconds", "default", NULL})->valueint,
                     PSC_DEFAULT_ROLL_TIMEOUT);
    ck_assert_int_eq(at(health, (const char *[]){"rollTimeoutSeconds", "maximum", NULL})->valueint,
                     PSC_MAX_ROLL_TIMEOUT);
    ck_assert_int_eq(
        at(spec, (const char *[]){"terminationGracePeriodSeconds", "default", NULL})->valueint,
        PSC_DEFAULT_GRACE_SECONDS);
    ck_assert_int_eq(
        at(spec, (const char *[]){"terminationGracePeriodSeconds", "maximum", NULL})->valueint,
        PSC_MAX_GRACE_SECONDS);
    ck_assert_int_eq(at(spec, (const char *[]){"zones", "maxItems", NULL})->valueint,
                     PSC_MAX_ZONES);
    ck_assert_int_eq(at(spec, (const char *[]){"listeners", "maxProperties", NULL})->valueint,
                     PSC_MAX_LISTENERS);
    ck_assert_int_eq(at(health, (const char *[]){"gates", "maxItems", NULL})->valueint,
                     PSC_MAX_GATES);
    const cJSON *gates = at(health, (const char *[]){"gates", "default", NULL});
    ck_assert_int_eq(cJSON_GetArraySize(gates), 2);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(gates, 0), "metric")->valuestring,
                     PSC_DEFAULT_GATE_URP);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(gates, 1), "metric")->valuestring,
                     PSC_DEFAULT_GATE_OFFLINE);
    ck_assert(cJSON_GetObjectItem(cJSON_GetArrayItem(gates, 0), "max")->valuedouble == 0);
    /* optional: a boolean, false unless set, in the schema and in the default list */
    ck_assert_str_eq(
        at(health, (const char *[]){"gates", "items", "properties", "optional", "type", NULL})
            ->valuestring,
        "boolean");
    ck_assert(cJSON_IsFalse(
        at(health, (const char *[]){"gates", "items", "properties", "optional", "default", NULL})));
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetArrayItem(gates, 0), "optional")));
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(gates, 1), "optional")));
    const cJSON *ls = at(spec, (const char *[]){"listeners", "default", NULL});
    ck_assert_int_eq(cJSON_GetArraySize(ls), 1);
    ck_assert_int_eq(cJSON_GetObjectItem(ls, PSC_DEFAULT_LISTENER_NAME)->valueint,
                     PSC_DEFAULT_LISTENER_PORT);
    ck_assert(cJSON_IsFalse(at(spec, (const char *[]){"storage", "properties",
                                                      "deleteClaimOnScaleDown", "default", NULL})));
    ck_assert(cJSON_IsFalse(at(spec, (const char *[]){"paused", "default", NULL})));
    cJSON_Delete(crd);
}
END_TEST

/* ---- edits of a valid object: set a field (JSON text) or delete it (NULL) ---- */

/* walk finds the parent object of a /-separated path (JSON-pointer style, ~1 = '/'),
 * creating missing objects; *leaf gets the last key. */
static cJSON *walk(cJSON *root, const char *path, char *leaf, size_t leafsz)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path + 1);
    cJSON *cur = root;
    char *tok = buf;
    while (tok) {
        char *next = strchr(tok, '/');
        if (next != NULL)
            *next++ = '\0';
        char key[128];
        size_t k = 0;
        for (char *c = tok; *c && k < sizeof key - 1; c++) {
            if (c[0] == '~' && c[1] == '1') {
                key[k++] = '/';
                c++;
            } else {
                key[k++] = *c;
            }
        }
        key[k] = '\0';
        if (next == NULL) {
            snprintf(leaf, leafsz, "%s", key);
            return cur;
        }
        cJSON *child = NULL;
        if (cJSON_IsArray(cur))
            child = cJSON_GetArrayItem(cur, atoi(key));
        else
            child = cJSON_GetObjectItemCaseSensitive(cur, key);
        if (child == NULL)
            child = cJSON_AddObjectToObject(cur, key);
        cur = child;
        tok = next;
    }
    return NULL;
}

static cJSON *edited(const char *base, const char *path, const char *value)
{
    cJSON *j = parse_json(base);
    char leaf[128];
    cJSON *parent = walk(j, path, leaf, sizeof leaf);
    ck_assert_ptr_nonnull(parent);
    if (cJSON_IsArray(parent)) {
        int idx = atoi(leaf);
        if (value)
            cJSON_ReplaceItemInArray(parent, idx, parse_json(value));
        else
            cJSON_DeleteItemFromArray(parent, idx);
    } else {
        cJSON_DeleteItemFromObjectCaseSensitive(parent, leaf);
        if (value)
            cJSON_AddItemToObject(parent, leaf, parse_json(value));
    }
    return j;
}

struct bad {
    const char *path;  /* field to edit */
    const char *value; /* JSON text, NULL = delete the field */
    const char *want;  /* must appear in the message, starting with the field path */
};

static const struct bad bad_cases[] = {
    {"/spec/replicas", "0", "spec.replicas: must be at least 1, got 0"},
    {"/spec/replicas", "-3", "spec.replicas: must be at least 1, got -3"},
    {"/spec/replicas", "1001", "spec.replicas: must be at most 1000, got 1001"},
    {"/spec/replicas", "1e300", "spec.replicas: must be at most 1000"},
    {"/spec/replicas", "2.5", "spec.replicas: must be a whole number, got 2.5"},
    {"/spec/replicas", "\"3\"", "spec.replicas: must be an integer, got the string \"3\""},
    {"/spec/replicas", "true", "spec.replicas: must be an integer, got a boolean"},
    {"/spec/replicas", NULL, "spec.replicas: required"},
    {"/spec/image", NULL, "spec.image: required"},
    {"/spec/image", "\"\"", "spec.image: must be a container image reference"},
    {"/spec/image", "\"apache/kafka 3.9\"", "spec.image: must be a container image reference"},
    {"/spec/image", "[]", "spec.image: must be a string, got a list"},
    {"/spec", NULL, "spec: required"},
    {"/spec", "[]", "spec: must be an object, got a list"},
    {"/spec", "\"x\"", "spec: must be an object, got the string \"x\""},
    {"/metadata", NULL, "metadata: required"},
    {"/metadata/name", NULL, "metadata.name: required"},
    {"/metadata/name", "7", "metadata.name: must be a string, got the number 7"},
    {"/metadata/name", "\"Orders\"", "metadata.name: must be a DNS-1035 label"},
    {"/metadata/name", "\"1orders\"", "metadata.name: must be a DNS-1035 label"},
    {"/metadata/name", "\"orders.eu\"", "metadata.name: must be a DNS-1035 label"},
    {"/metadata/name", "\"a2345678901234567890123456789012345678901234567890123\"",
     "metadata.name: must be a DNS-1035 label of at most 52"},
    {"/metadata/namespace", "{}", "metadata.namespace: must be a string"},
    {"/metadata/generation", "\"4\"", "metadata.generation: must be a non-negative integer"},
    {"/metadata/generation", "-1", "metadata.generation: must be a non-negative integer"},
    {"/metadata/annotations", "[]", "metadata.annotations: must be an object"},
    {"/metadata/annotations/ballast.dev~1paused", "\"yes\"",
     "metadata.annotations[\"ballast.dev/paused\"]: must be \"true\" or \"false\", got \"yes\""},
    {"/metadata/annotations/ballast.dev~1paused", "true",
     "metadata.annotations[\"ballast.dev/paused\"]: must be a string"},
    {"/metadata/annotations/ballast.dev~1restart", "1",
     "metadata.annotations[\"ballast.dev/restart\"]: must be a string"},
    {"/kind", "\"Pod\"", "kind: must be PhysicalStatefulCluster, got \"Pod\""},
    {"/kind", "5", "kind: must be the string PhysicalStatefulCluster"},
    {"/status", "\"ok\"", "status: must be an object"},
    {"/spec/zones", "\"zone-a\"", "spec.zones: must be a list of zone names"},
    {"/spec/zones", "[\"a\",\"a\"]", "spec.zones[1]: zone \"a\" is listed twice"},
    {"/spec/zones", "[\"a\",\"\"]", "spec.zones[1]: must be a zone name"},
    {"/spec/zones", "[\"zone a\"]", "spec.zones[0]: must be a zone name"},
    {"/spec/zones", "[\"-zone\"]", "spec.zones[0]: must be a zone name"},
    {"/spec/zones", "[\"zone/a\"]", "spec.zones[0]: must be a zone name"},
    {"/spec/zones",
     "[\"a1\",\"a2\",\"a3\",\"a4\",\"a5\",\"a6\",\"a7\",\"a8\",\"a9\",\"b0\",\"b1\",\"b2\",\"b3\","
     "\"b4\",\"b5\",\"b6\",\"b7\",\"b8\",\"b9\",\"c0\",\"c1\",\"c2\",\"c3\",\"c4\",\"c5\",\"c6\","
     "\"c7\",\"c8\",\"c9\",\"d0\",\"d1\",\"d2\",\"d3\",\"d4\",\"d5\",\"d6\",\"d7\",\"d8\",\"d9\","
     "\"e0\",\"e1\",\"e2\",\"e3\",\"e4\",\"e5\",\"e6\",\"e7\",\"e8\",\"e9\",\"f0\",\"f1\",\"f2\","
     "\"f3\",\"f4\",\"f5\",\"f6\",\"f7\",\"f8\",\"f9\",\"g0\",\"g1\",\"g2\",\"g3\",\"g4\",\"g5\"]",
     "spec.zones: at most 64 zones, got 65"},
    {"/spec/zones", "[3]", "spec.zones[0]: must be a zone name (a string), got the number 3"},
    {"/spec/zones", "[null]", "spec.zones[0]: must be a zone name (a string), got null"},
    {"/spec/config", "[]", "spec.config: must be an object"},
    {"/spec/config/num.partitions", "6",
     "spec.config[\"num.partitions\"]: must be a string, got the number 6; quote it: \"6\""},
    {"/spec/config/auto.create.topics.enable", "false",
     "spec.config[\"auto.create.topics.enable\"]: must be a string, got the boolean false"},
    {"/spec/config/x", "{}", "spec.config[\"x\"]: must be a string, got an object"},
    {"/spec/config/x", "null", "spec.config[\"x\"]: must be a string, got null"},
    {"/spec/config/", "\"v\"", "spec.config: keys must not be empty"},
    {"/spec/config/a=b", "\"v\"", "spec.config[\"a=b\"]: keys must not contain"},
    {"/spec/config/a b", "\"v\"", "spec.config[\"a b\"]: keys must not contain"},
    {"/spec/config/a", "\"1\\nprocess.roles=broker\"",
     "spec.config[\"a\"]: the value must be one line"},
    {"/spec/resources", "\"big\"", "spec.resources: must be an object"},
    {"/spec/resources/requests", "[]", "spec.resources.requests: must be an object"},
    {"/spec/resources/requests/memory", "\"8GB\"", "spec.resources.requests.memory: "},
    {"/spec/resources/limits/cpu", "true", "spec.resources.limits.cpu: must be a quantity"},
    {"/spec/storage", NULL, "spec.storage: required"},
    {"/spec/storage", "\"100Gi\"", "spec.storage: must be an object"},
    {"/spec/storage/size", NULL, "spec.storage.size: required"},
    {"/spec/storage/size", "\"0\"", "spec.storage.size: must be greater than zero, got \"0\""},
    {"/spec/storage/size", "0", "spec.storage.size: must be greater than zero"},
    {"/spec/storage/size", "\"100 Gi\"", "spec.storage.size: \"100 Gi\" is not a quantity"},
    {"/spec/storage/size", "\"-1Gi\"", "spec.storage.size: \"-1Gi\": must not be negative"},
    {"/spec/storage/size", "\"9Ei\"", "spec.storage.size: \"9Ei\" is too large"},
    {"/spec/storage/size", "1.5", "spec.storage.size: must be a whole number of bytes"},
    {"/spec/storage/size", "{}", "spec.storage.size: must be a quantity"},
    {"/spec/storage/storageClassName", "1", "spec.storage.storageClassName: must be a string"},
    {"/spec/storage/storageClassName", "\"Fast SSD\"",
     "spec.storage.storageClassName: must be a StorageClass name"},
    {"/spec/storage/deleteClaimOnScaleDown", "\"false\"",
     "spec.storage.deleteClaimOnScaleDown: must be true or false, got the string \"false\""},
    {"/spec/listeners", "{}", "spec.listeners: must name at least one listener"},
    {"/spec/listeners", "[9092]", "spec.listeners: must be an object"},
    {"/spec/listeners/client", "0", "spec.listeners.client: must be at least 1, got 0"},
    {"/spec/listeners/client", "65536", "spec.listeners.client: must be at most 65535, got 65536"},
    {"/spec/listeners/client", "\"9092\"", "spec.listeners.client: must be an integer"},
    {"/spec/listeners/external", "9092",
     "spec.listeners.external: port 9092 is already used by listener client"},
    {"/spec/listeners/controller", "9000", "spec.listeners.controller: the name is reserved"},
    {"/spec/listeners/replication", "9000", "spec.listeners.replication: the name is reserved"},
    {"/spec/listeners/external", "9093",
     "spec.listeners.external: port 9093 is reserved for ballast's controller listener"},
    {"/spec/listeners/external", "9091",
     "spec.listeners.external: port 9091 is reserved for ballast's replication listener"},
    {"/spec/health/metricsPort", "9093",
     "spec.health.metricsPort: port 9093 is reserved for ballast's controller listener"},
    {"/spec/config/advertised.listeners", "\"PLAINTEXT://x:9092\"",
     "spec.config[\"advertised.listeners\"]: ballast sets this key itself"},
    {"/spec/config/node.id", "\"7\"", "spec.config[\"node.id\"]: ballast sets this key itself"},
    {"/spec/terminationGracePeriodSeconds", "0",
     "spec.terminationGracePeriodSeconds: must be at least 1, got 0"},
    {"/spec/terminationGracePeriodSeconds", "86401",
     "spec.terminationGracePeriodSeconds: must be at most 86400, got 86401"},
    {"/spec/listeners/Client", "9000", "spec.listeners.Client: the listener name must be"},
    {"/spec/listeners/very-long-listener", "9000",
     "spec.listeners.very-long-listener: the listener name must be"},
    {"/spec/listeners/1234", "9000", "spec.listeners.1234: the listener name must be"},
    {"/spec/health", "7", "spec.health: must be an object"},
    {"/spec/health/metricsPort", "0", "spec.health.metricsPort: must be at least 1, got 0"},
    {"/spec/health/metricsPort", "70000", "spec.health.metricsPort: must be at most 65535"},
    {"/spec/health/metricsPort", "9092",
     "spec.health.metricsPort: port 9092 is already used by listener client"},
    {"/spec/health/metricsPath", "\"metrics\"",
     "spec.health.metricsPath: must be a URL path starting with '/'"},
    {"/spec/health/metricsPath", "5", "spec.health.metricsPath: must be a string"},
    {"/spec/health/gates", "[]", "spec.health.gates: must list at least one gate"},
    {"/spec/health/gates", "{}", "spec.health.gates: must be a list"},
    {"/spec/health/gates/1", "\"x\"", "spec.health.gates[1]: must be an object"},
    {"/spec/health/gates/1", "{\"max\":0}", "spec.health.gates[1].metric: required"},
    {"/spec/health/gates/0", "{\"metric\":\"up\"}", "spec.health.gates[0].max: required"},
    {"/spec/health/gates/0", "{\"metric\":\"up\",\"max\":\"0\"}",
     "spec.health.gates[0].max: must be a number, got the string \"0\""},
    {"/spec/health/gates/0", "{\"metric\":\"1up\",\"max\":0}",
     "spec.health.gates[0].metric: must be a Prometheus metric name"},
    {"/spec/health/gates/0", "{\"metric\":\"up{job=\\\"x\\\"}\",\"max\":0}",
     "spec.health.gates[0].metric: must be a Prometheus metric name"},
    {"/spec/health/gates/1",
     "{\"metric\":\"kafka_server_replicamanager_underreplicatedpartitions\",\"max\":1}",
     "spec.health.gates[1].metric: metric kafka_server_replicamanager_underreplicatedpartitions "
     "already has a gate at [0]"},
    {"/spec/health/gates/0", "{\"metric\":\"up\",\"max\":0,\"optional\":\"true\"}",
     "spec.health.gates[0].optional: must be true or false, got the string \"true\""},
    {"/spec/health/gates/1", "{\"metric\":\"up\",\"max\":0,\"optional\":1}",
     "spec.health.gates[1].optional: must be true or false, got the number 1"},
    {"/spec/health/gates/0", "{\"metric\":\"up\",\"max\":0,\"optional\":[]}",
     "spec.health.gates[0].optional: must be true or false, got a list"},
    {"/spec/health/drainedMetric", "\"a-b\"",
     "spec.health.drainedMetric: must be a Prometheus metric name"},
    {"/spec/health/drainedMetric", "[]", "spec.health.drainedMetric: must be a string"},
    {"/spec/health/rollTimeoutSeconds", "0",
     "spec.health.rollTimeoutSeconds: must be at least 1, got 0"},
    {"/spec/health/rollTimeoutSeconds", "99999999",
     "spec.health.rollTimeoutSeconds: must be at most 604800"},
    {"/spec/paused", "\"true\"", "spec.paused: must be true or false, got the string \"true\""},
    {"/spec/paused", "1", "spec.paused: must be true or false, got the number 1"},
};

START_TEST(test_invalid)
{
    const struct bad *c = &bad_cases[_i];
    cJSON *j = edited(ORDERS_JSON, c->path, c->value);
    char *before = cJSON_PrintUnformatted(j);
    struct psc *p = (struct psc *)1; /* must be reset to NULL */
    struct err e = {0};
    int rc = psc_parse(j, &p, &e);
    ck_assert_msg(rc == ERR_INVALID, "%s = %s: rc %d, want ERR_INVALID (%s)", c->path,
                  c->value ? c->value : "(deleted)", rc, e.msg);
    ck_assert_ptr_null(p);
    ck_assert_msg(strstr(e.msg, c->want) != NULL, "%s = %s:\n  message: %s\n  want:    %s", c->path,
                  c->value ? c->value : "(deleted)", e.msg, c->want);
    char *after = cJSON_PrintUnformatted(j);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    cJSON_Delete(j);
}
END_TEST

/* ---- edits that stay valid ---- */

struct good {
    const char *path, *value;
};

static const struct good good_cases[] = {
    {"/spec/zones", "[]"},
    {"/spec/zones", NULL},
    {"/spec/zones", "[\"eastus_1\",\"Zone.B\",\"z\"]"},
    {"/spec/replicas", "1"},
    {"/spec/replicas", "1000"},
    {"/spec/replicas", "3.0"},
    {"/spec/storage/size", "1073741824"},
    {"/spec/storage/size", "\"500m\""},
    {"/spec/storage/storageClassName", "\"\""},
    {"/spec/storage/storageClassName", "null"},
    {"/spec/health", NULL},
    {"/spec/health", "{}"},
    {"/spec/health", "null"},
    {"/spec/health/gates/0", "{\"metric\":\"up:rate_5m\",\"max\":0.5}"},
    {"/spec/health/gates/0", "{\"metric\":\"up\",\"max\":0,\"optional\":true}"},
    {"/spec/health/gates/0", "{\"metric\":\"up\",\"max\":0,\"optional\":null}"},
    {"/spec/config", "{}"},
    {"/spec/config/sasl.jaas.config", "\"a b=\\\"c\\\";\""},
    {"/spec/listeners/x-9", "1"},
    {"/spec/resources/limits", "{\"cpu\":4,\"memory\":\"16Gi\"}"},
    {"/spec/extraFieldFromANewerVersion", "{\"a\":1}"},
    {"/metadata/annotations", NULL},
    {"/metadata/annotations/ballast.dev~1paused", "\"false\""},
    {"/metadata/annotations/other", "\"x\""},
    {"/status", NULL},
    {"/status", "null"},
    {"/kind", NULL},
    {"/metadata/name", "\"a234567890123456789012345678901234567890123456789012\""},
};

START_TEST(test_valid_edits)
{
    const struct good *c = &good_cases[_i];
    cJSON *j = edited(ORDERS_JSON, c->path, c->value);
    struct psc *p = NULL;
    struct err e = {0};
    int rc = psc_parse(j, &p, &e);
    ck_assert_msg(rc == 0, "%s = %s: %s", c->path, c->value ? c->value : "(deleted)", e.msg);
    ck_assert_ptr_nonnull(p);
    psc_free(p);
    cJSON_Delete(j);
}
END_TEST

START_TEST(test_specific_values)
{
    struct err e = {0};
    struct psc *p = NULL;
    cJSON *j = edited(ORDERS_JSON, "/spec/storage/size", "1073741824");
    ck_assert_int_eq(psc_parse(j, &p, &e), 0);
    ck_assert_str_eq(p->spec.storage_size, "1073741824");
    ck_assert_int_eq(p->spec.storage_bytes, 1LL << 30);
    psc_free(p);
    cJSON_Delete(j);

    j = edited(ORDERS_JSON, "/spec/storage/storageClassName", "\"\"");
    ck_assert_int_eq(psc_parse(j, &p, &e), 0);
    ck_assert_str_eq(p->spec.storage_class, ""); /* "" = no class, not the default */
    psc_free(p);
    cJSON_Delete(j);

    j = edited(ORDERS_JSON, "/spec/health/gates/0", "{\"metric\":\"up:rate_5m\",\"max\":0.5}");
    ck_assert_int_eq(psc_parse(j, &p, &e), 0);
    ck_assert_str_eq(p->spec.gates[0].metric, "up:rate_5m");
    ck_assert(p->spec.gates[0].max == 0.5);
    psc_free(p);
    cJSON_Delete(j);

    /* optional: false unless set, per gate */
    j = edited(ORDERS_JSON, "/spec/health/gates/1",
               "{\"metric\":\"kafka_controller_kafkacontroller_offlinepartitionscount\","
               "\"max\":0,\"optional\":true}");
    ck_assert_int_eq(psc_parse(j, &p, &e), 0);
    ck_assert(!p->spec.gates[0].optional);
    ck_assert(p->spec.gates[1].optional);
    psc_free(p);
    cJSON_Delete(j);
    j = edited(ORDERS_JSON, "/spec/health/gates/1",
               "{\"metric\":\"kafka_controller_kafkacontroller_offlinepartitionscount\","
               "\"max\":0,\"optional\":false}");
    ck_assert_int_eq(psc_parse(j, &p, &e), 0);
    ck_assert(!p->spec.gates[1].optional);
    psc_free(p);
    cJSON_Delete(j);

    j = edited(ORDERS_JSON, "/spec/listeners/admin", "9000");
    ck_assert_int_eq(psc_parse(j, &p, &e), 0);
    ck_assert_int_eq(p->spec.nlisteners, 3); /* sorted by name */
    ck_assert_str_eq(p->spec.listeners[0].name, "admin");
    ck_assert_str_eq(p->spec.listeners[1].name, "client");
    ck_assert_str_eq(p->spec.listeners[2].name, "external");
    psc_free(p);
    cJSON_Delete(j);

    j = edited(ORDERS_JSON, "/spec/zones", "[]");
    ck_assert_int_eq(psc_parse(j, &p, &e), 0);
    ck_assert_int_eq(p->spec.nzones, 0);
    psc_free(p);
    cJSON_Delete(j);
}
END_TEST

/* paused = spec.paused || annotation == "true" */
START_TEST(test_paused)
{
    static const struct {
        const char *spec, *ann; /* JSON text or NULL = absent */
        bool want;
    } cases[] = {
        {NULL, NULL, false},        {"false", NULL, false},        {"true", NULL, true},
        {NULL, "\"true\"", true},   {"false", "\"true\"", true},   {"true", "\"false\"", true},
        {NULL, "\"false\"", false}, {"false", "\"false\"", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *j = edited(MINIMAL_JSON, "/spec/paused", cases[i].spec);
        if (cases[i].ann) {
            cJSON *md = cJSON_GetObjectItem(j, "metadata");
            cJSON *ann = cJSON_AddObjectToObject(md, "annotations");
            cJSON_AddItemToObject(ann, PSC_ANN_PAUSED, parse_json(cases[i].ann));
        }
        struct psc *p = NULL;
        struct err e = {0};
        ck_assert_msg(psc_parse(j, &p, &e) == 0, "case %zu: %s", i, e.msg);
        ck_assert_msg(p->paused == cases[i].want, "case %zu: paused %d, want %d", i, p->paused,
                      cases[i].want);
        ck_assert_int_eq(p->spec.paused, cases[i].spec && strcmp(cases[i].spec, "true") == 0);
        psc_free(p);
        cJSON_Delete(j);
    }
}
END_TEST

/* ---- garbage never crashes ---- */

START_TEST(test_not_objects)
{
    static const char *texts[] = {"null",
                                  "[]",
                                  "\"psc\"",
                                  "42",
                                  "true",
                                  "{}",
                                  "{\"metadata\":null}",
                                  "{\"metadata\":{\"name\":\"a\"}}",
                                  "{\"metadata\":{\"name\":\"a\"},\"spec\":{}}"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        cJSON *j = parse_json(texts[i]);
        struct psc *p = NULL;
        struct err e = {0};
        ck_assert_int_eq(psc_parse(j, &p, &e), ERR_INVALID);
        ck_assert_ptr_null(p);
        ck_assert_msg(e.msg[0] != '\0', "%s: no message", texts[i]);
        cJSON_Delete(j);
    }
    struct psc *p = NULL;
    struct err e = {0};
    ck_assert_int_eq(psc_parse(NULL, &p, &e), ERR_INVALID);
    psc_free(NULL);
}
END_TEST

/* Replace every node of the design example, one at a time, by each JSON type: parse
 * must succeed or fail with ERR_INVALID and a message, and never crash or leak. */
static void mutate_all(cJSON *root, cJSON *node, int *count)
{
    static const char *repl[] = {
        "null", "\"\"",         "\"x y\"",           "0", "-1", "1e308", "true", "[]",
        "{}",   "[1,\"a\",{}]", "{\"a\":{\"b\":[]}}"};
    for (cJSON *child = node->child; child; child = child->next) {
        cJSON *saved = cJSON_Duplicate(child, true);
        for (size_t r = 0; r < sizeof repl / sizeof repl[0]; r++) {
            /* nv takes child's place (and key); child is freed. */
            cJSON *nv = cJSON_Parse(repl[r]);
            ck_assert(cJSON_ReplaceItemViaPointer(node, child, nv));
            child = nv;
            struct psc *p = NULL;
            struct err e = {0};
            int rc = psc_parse(root, &p, &e);
            ck_assert_msg(rc == 0 || rc == ERR_INVALID, "rc %d", rc);
            ck_assert_msg(rc == 0 || e.msg[0] != '\0', "no message");
            ck_assert_msg((rc == 0) == (p != NULL), "out and rc disagree");
            psc_free(p);
            (*count)++;
        }
        cJSON *back = cJSON_Duplicate(saved, true);
        cJSON_ReplaceItemViaPointer(node, child, back);
        child = back;
        cJSON_Delete(saved);
        mutate_all(root, child, count);
    }
}

START_TEST(test_wrong_types_everywhere)
{
    cJSON *j = parse_json(ORDERS_JSON);
    int count = 0;
    mutate_all(j, j, &count);
    ck_assert_int_gt(count, 500);
    /* the tree is restored: it parses again */
    struct psc *p = NULL;
    struct err e = {0};
    ck_assert_msg(psc_parse(j, &p, &e) == 0, "%s", e.msg);
    psc_free(p);
    cJSON_Delete(j);
}
END_TEST

START_TEST(test_duplicate_keys)
{
    /* cJSON keeps duplicate keys; the API server never sends them, but a file might. */
    static const struct {
        const char *edit, *want;
    } cases[] = {
        {"\"config\":{\"a\":\"1\",\"a\":\"2\"}", "spec.config[\"a\"]: key appears more than once"},
        {"\"listeners\":{\"client\":9092,\"client\":9094}",
         "spec.listeners.client: listener appears more than once"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text,
                 "{\"metadata\":{\"name\":\"m\"},\"spec\":{\"replicas\":1,\"image\":\"i\","
                 "\"storage\":{\"size\":\"1Gi\"},%s}}",
                 cases[i].edit);
        cJSON *j = parse_json(text);
        struct psc *p = NULL;
        struct err e = {0};
        ck_assert_int_eq(psc_parse(j, &p, &e), ERR_INVALID);
        ck_assert_msg(strstr(e.msg, cases[i].want), "message: %s\nwant: %s", e.msg, cases[i].want);
        cJSON_Delete(j);
    }
}
END_TEST

/* Lists at and past their caps, and a config map far larger than any real one. */
START_TEST(test_sizes)
{
    static const struct {
        const char *field;
        int n;
        const char *want; /* NULL = accepted */
    } cases[] = {
        {"listeners", PSC_MAX_LISTENERS, NULL},
        {"listeners", PSC_MAX_LISTENERS + 1, "spec.listeners: at most 16 listeners, got 17"},
        {"gates", PSC_MAX_GATES, NULL},
        {"gates", PSC_MAX_GATES + 1, "spec.health.gates: at most 32 gates, got 33"},
        {"config", 20000, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *j = parse_json(MINIMAL_JSON);
        cJSON *spec = cJSON_GetObjectItem(j, "spec");
        char key[64];
        if (strcmp(cases[i].field, "listeners") == 0) {
            cJSON *ls = cJSON_AddObjectToObject(spec, "listeners");
            for (int k = 0; k < cases[i].n; k++) {
                snprintf(key, sizeof key, "l%d", k);
                cJSON_AddNumberToObject(ls, key, 10000 + k);
            }
        } else if (strcmp(cases[i].field, "gates") == 0) {
            cJSON *gs = cJSON_AddArrayToObject(cJSON_AddObjectToObject(spec, "health"), "gates");
            for (int k = 0; k < cases[i].n; k++) {
                cJSON *g = cJSON_CreateObject();
                snprintf(key, sizeof key, "metric_%d", k);
                cJSON_AddStringToObject(g, "metric", key);
                cJSON_AddNumberToObject(g, "max", k);
                cJSON_AddItemToArray(gs, g);
            }
        } else {
            cJSON *cfg = cJSON_AddObjectToObject(spec, "config");
            for (int k = cases[i].n - 1; k >= 0; k--) {
                snprintf(key, sizeof key, "key.%06d", k);
                cJSON_AddStringToObject(cfg, key, "v");
            }
        }
        struct psc *p = NULL;
        struct err e = {0};
        int rc = psc_parse(j, &p, &e);
        if (cases[i].want == NULL) {
            ck_assert_msg(rc == 0, "%s x%d: %s", cases[i].field, cases[i].n, e.msg);
            if (strcmp(cases[i].field, "config") == 0) {
                ck_assert_int_eq(p->spec.nconfig, cases[i].n);
                ck_assert_str_eq(p->spec.config[0].key, "key.000000");
                ck_assert_str_eq(psc_config_get(p, "key.012345"), "v");
            }
        } else {
            ck_assert_int_eq(rc, ERR_INVALID);
            ck_assert_msg(strstr(e.msg, cases[i].want) != NULL, "message: %s\nwant: %s", e.msg,
                          cases[i].want);
        }
        psc_free(p);
        cJSON_Delete(j);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("psc_parse");
    TCase *tc = tcase_create("parse");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_design_example);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_samples);
    tcase_add_test(tc, test_crd_agrees);
    tcase_add_loop_test(tc, test_invalid, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_loop_test(tc, test_valid_edits, 0, (int)(sizeof good_cases / sizeof good_cases[0]));
    tcase_add_test(tc, test_specific_values);
    tcase_add_test(tc, test_paused);
    tcase_add_test(tc, test_not_objects);
    tcase_add_test(tc, test_wrong_types_everywhere);
    tcase_add_test(tc, test_duplicate_keys);
    tcase_add_test(tc, test_sizes);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
