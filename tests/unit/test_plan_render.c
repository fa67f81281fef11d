/* test_plan_render.c — the desired children: owner references and labels on every
 * object, the per-member config, Services, PVCs, pods and the PDB as plan.h documents
 * them; drift in ballast's fields is updated, API-server defaults are not drift. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "plan/testkit.h"

static const char *const ZONES3[] = {"zone-a", "zone-b", "zone-c", NULL};

/* "a.b.0.c": object keys and array indexes; a key with dots (a label) ends the path */
static const cJSON *at(const cJSON *o, const char *path)
{
    const char *rest = path;
    while (o != NULL && rest != NULL && *rest != '\0') {
        if (cJSON_IsObject(o) && cJSON_GetObjectItemCaseSensitive(o, rest) != NULL)
            return cJSON_GetObjectItemCaseSensitive(o, rest);
        const char *dot = strchr(rest, '.');
        char key[128];
        snprintf(key, sizeof key, "%.*s", dot ? (int)(dot - rest) : (int)strlen(rest), rest);
        o = cJSON_IsArray(o) ? cJSON_GetArrayItem(o, atoi(key))
                             : cJSON_GetObjectItemCaseSensitive(o, key);
        rest = dot ? dot + 1 : NULL;
    }
    return o;
}

static const char *at_str(const cJSON *o, const char *path)
{
    const cJSON *v = at(o, path);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double at_num(const cJSON *o, const char *path)
{
    const cJSON *v = at(o, path);
    ck_assert_msg(cJSON_IsNumber(v), "%s is not a number", path);
    return v->valuedouble;
}

/* First pass of a fresh cluster plus the second (pods). */
static void two_passes(struct tk *t)
{
    ck_assert_int_eq(tk_plan(t), 0);
    tk_apply(t);
    ck_assert_int_eq(tk_plan(t), 0);
    tk_apply(t);
}

START_TEST(test_owner_and_labels_everywhere)
{
    struct tk t;
    tk_init(&t, 3, ZONES3);
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->nactions, 9);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < t.plan->nactions; i++) {
            const struct plan_action *a = &t.plan->actions[i];
            ck_assert_int_eq(a->verb, PLAN_CREATE);
            ck_assert_str_eq(a->ns, "streaming");
            const cJSON *o = a->object;
            ck_assert_str_eq(at_str(o, "metadata.name"), a->name);
            ck_assert_str_eq(at_str(o, "metadata.namespace"), "streaming");
            if (a->kind == PLAN_PVC) {
                /* Volumes outlive their PSC: no owner reference to garbage-collect them. */
                ck_assert_ptr_null(at(o, "metadata.ownerReferences"));
                continue;
            }
            ck_assert_str_eq(at_str(o, "metadata.ownerReferences.0.apiVersion"),
                             "ballast.dev/v1alpha1");
            ck_assert_str_eq(at_str(o, "metadata.ownerReferences.0.kind"),
                             "PhysicalStatefulCluster");
            ck_assert_str_eq(at_str(o, "metadata.ownerReferences.0.name"), "orders");
            ck_assert_str_eq(at_str(o, "metadata.ownerReferences.0.uid"), "uid-psc-1");
            ck_assert(cJSON_IsTrue(at(o, "metadata.ownerReferences.0.controller")));
            ck_assert(cJSON_IsTrue(at(o, "metadata.ownerReferences.0.blockOwnerDeletion")));
            const cJSON *l = at(o, "metadata.labels");
            ck_assert_str_eq(at_str(l, PSC_LABEL_MANAGED_BY), "ballast");
            ck_assert_str_eq(at_str(l, PSC_LABEL_INSTANCE), "orders");
            if (a->kind == PLAN_PVC || a->kind == PLAN_POD ||
                (a->kind == PLAN_SERVICE && strcmp(a->name, "orders-headless") != 0)) {
                const cJSON *ord = cJSON_GetObjectItemCaseSensitive(l, PSC_LABEL_ORDINAL);
                ck_assert(cJSON_IsString(ord));
            }
            ck_assert_str_eq(a->api_version, a->kind == PLAN_PDB ? "policy/v1" : "v1");
            ck_assert_str_eq(at_str(o, "apiVersion"), a->api_version);
            ck_assert_str_eq(at_str(o, "kind"), plan_kind_name(a->kind));
        }
        tk_apply(&t);
        ck_assert_int_eq(tk_plan(&t), 0);
        ck_assert_int_eq(t.plan->nactions, round == 0 ? 3 : 0); /* the pods, then none */
    }
    tk_free(&t);
}
END_TEST

START_TEST(test_configmap_layout)
{
    struct tk t;
    tk_init(&t, 4, ZONES3);
    /* psc_parse refuses the keys ballast owns; a struct that carries one anyway (built
     * by hand here) still never renders it: a user's node.id must not give two members
     * one identity */
    free(t.psc.spec.config[0].key);
    free(t.psc.spec.config[0].value);
    free(t.psc.spec.config);
    t.psc.spec.nconfig = 3;
    t.psc.spec.config = calloc(3, sizeof *t.psc.spec.config);
    t.psc.spec.config[0].key = strdup("message.max.bytes");
    t.psc.spec.config[0].value = strdup("1048576\n#evil=1");
    t.psc.spec.config[1].key = strdup("node.id");
    t.psc.spec.config[1].value = strdup("7");
    t.psc.spec.config[2].key = strdup("num.partitions");
    t.psc.spec.config[2].value = strdup("6");
    ck_assert_int_eq(tk_plan(&t), 0);
    char name[64];
    snprintf(name, sizeof name, "orders-config-%s", t.plan->update_revision);
    const struct plan_action *a = tk_action(t.plan, PLAN_CREATE, PLAN_CONFIGMAP, name);
    ck_assert_ptr_nonnull(a);
    ck_assert(cJSON_IsTrue(at(a->object, "immutable")));
    ck_assert_str_eq(at_str(a->object, "metadata.labels.ballast.dev/revision"),
                     t.plan->update_revision);
    const cJSON *data = at(a->object, "data");
    ck_assert_int_eq(cJSON_GetArraySize(data), 2);
    const char *sp = at_str(data, "server.properties");
    ck_assert_ptr_nonnull(strstr(sp, "\nnum.partitions=6\n"));
    ck_assert_ptr_nonnull(strstr(sp, "\nmessage.max.bytes=1048576\\n#evil=1\n"));
    ck_assert_ptr_null(strstr(sp, "node.id"));
    /* 4 members: a quorum of 3 voters on the members' stable names */
    ck_assert_ptr_nonnull(strstr(sp, "\ncontroller.quorum.voters="
                                     "0@orders-0.orders-headless.streaming.svc:9093,"
                                     "1@orders-1.orders-headless.streaming.svc:9093,"
                                     "2@orders-2.orders-headless.streaming.svc:9093\n"));
    ck_assert_ptr_nonnull(strstr(sp, "\ncontroller.listener.names=CONTROLLER\n"));
    ck_assert_ptr_nonnull(strstr(sp, "\ninter.broker.listener.name=REPLICATION\n"));
    ck_assert_ptr_nonnull(strstr(sp, "\nlistener.security.protocol.map=CLIENT:PLAINTEXT,"
                                     "REPLICATION:PLAINTEXT,CONTROLLER:PLAINTEXT\n"));
    ck_assert_ptr_nonnull(strstr(sp, "\nlog.dirs=/var/lib/ballast/data/kafka\n"));
    const char *jmx = at_str(data, "jmx-exporter.yaml");
    ck_assert_ptr_nonnull(strstr(jmx, "kafka_$1_$2_$3"));
    /* every PVC records the quorum size, for life */
    const struct plan_action *pvc = tk_action(t.plan, PLAN_CREATE, PLAN_PVC, "data-orders-3");
    ck_assert_ptr_nonnull(pvc);
    ck_assert_str_eq(at_str(pvc->object, "metadata.labels.ballast.dev/kraft-voters"), "3");
    tk_free(&t);
}
END_TEST

/* Below 3 members the quorum is one voter; scaling up later keeps it (the PVCs say so). */
START_TEST(test_quorum_for_life)
{
    struct tk t;
    tk_init(&t, 1, ZONES3);
    tk_health_all(&t, 1, 0, 0);
    ck_assert_int_le(tk_converge(&t, 8), 8);
    t.psc.spec.replicas = 3;
    ck_assert_int_eq(tk_plan(&t), 0);
    char name[64];
    snprintf(name, sizeof name, "orders-config-%s", t.plan->update_revision);
    const cJSON *cm = tk_get(&t, PLAN_CONFIGMAP, name);
    ck_assert_ptr_nonnull(cm);
    ck_assert_ptr_nonnull(strstr(at_str(cm, "data.server.properties"),
                                 "\ncontroller.quorum.voters="
                                 "0@orders-0.orders-headless.streaming.svc:9093\n"));
    const struct plan_action *pvc = tk_action(t.plan, PLAN_CREATE, PLAN_PVC, "data-orders-2");
    ck_assert_ptr_nonnull(pvc);
    ck_assert_str_eq(at_str(pvc->object, "metadata.labels.ballast.dev/kraft-voters"), "1");
    const struct plan_action *pod = tk_action(t.plan, PLAN_CREATE, PLAN_POD, "orders-2");
    if (pod != NULL) {
        const char *mp = at_str(pod->object, "spec.initContainers.0.env.0.value");
        ck_assert_ptr_nonnull(strstr(mp, "\nprocess.roles=broker\n"));
    }
    tk_free(&t);
}
END_TEST

/* A cluster id is a 16-byte Kafka Uuid in base64url, the same for the same PSC. */
START_TEST(test_cluster_id)
{
    struct tk t;
    tk_init(&t, 3, ZONES3);
    char a[23], b[23];
    plan_cluster_id(&t.psc, a);
    plan_cluster_id(&t.psc, b);
    ck_assert_str_eq(a, b);
    ck_assert_int_eq((int)strlen(a), 22);
    ck_assert_int_eq(
        (int)strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 22);
    /* the last character encodes 2 bits: A, Q, g or w */
    ck_assert_ptr_nonnull(strchr("AQgw", a[21]));
    free(t.psc.name);
    t.psc.name = strdup("payments");
    plan_cluster_id(&t.psc, b);
    ck_assert_str_ne(a, b);
    tk_free(&t);
}
END_TEST

START_TEST(test_services_pvc_pdb)
{
    struct tk t;
    tk_init(&t, 3, ZONES3);
    t.psc.spec.storage_class = strdup("zonal-ssd");
    /* two listeners, sorted by name as psc_parse gives them */
    t.psc.spec.listeners = realloc(t.psc.spec.listeners, 2 * sizeof *t.psc.spec.listeners);
    t.psc.spec.listeners[1] = t.psc.spec.listeners[0];
    t.psc.spec.listeners[0].name = strdup("broker");
    t.psc.spec.listeners[0].port = 9091;
    t.psc.spec.nlisteners = 2;
    ck_assert_int_eq(tk_plan(&t), 0);
    const cJSON *h = tk_action(t.plan, PLAN_CREATE, PLAN_SERVICE, "orders-headless")->object;
    ck_assert_str_eq(at_str(h, "spec.clusterIP"), "None");
    ck_assert(cJSON_IsTrue(at(h, "spec.publishNotReadyAddresses")));
    ck_assert_int_eq(cJSON_GetArraySize(at(h, "spec.ports")), 3);
    ck_assert_str_eq(at_str(h, "spec.ports.0.name"), "broker");
    ck_assert_int_eq((int)at_num(h, "spec.ports.0.port"), 9091);
    ck_assert_str_eq(at_str(h, "spec.ports.1.name"), "client");
    ck_assert_str_eq(at_str(h, "spec.ports.2.name"), "metrics");
    ck_assert_int_eq((int)at_num(h, "spec.ports.2.port"), 9404);
    const cJSON *s1 = tk_action(t.plan, PLAN_CREATE, PLAN_SERVICE, "orders-1")->object;
    ck_assert_int_eq(cJSON_GetArraySize(at(s1, "spec.selector")), 1);
    ck_assert_str_eq(at_str(s1, "spec.selector.ballast.dev/member"), "orders-1");
    ck_assert_ptr_null(at(s1, "spec.clusterIP"));
    const cJSON *v2 = tk_action(t.plan, PLAN_CREATE, PLAN_PVC, "data-orders-2")->object;
    ck_assert_str_eq(at_str(v2, "spec.resources.requests.storage"), "100Gi");
    ck_assert_str_eq(at_str(v2, "spec.storageClassName"), "zonal-ssd");
    ck_assert_str_eq(at_str(v2, "spec.accessModes.0"), "ReadWriteOnce");
    ck_assert_str_eq(
        cJSON_GetObjectItemCaseSensitive(at(v2, "metadata.labels"), PSC_LABEL_ZONE)->valuestring,
        "zone-c");
    const cJSON *pdb = tk_action(t.plan, PLAN_CREATE, PLAN_PDB, "orders")->object;
    ck_assert_int_eq((int)at_num(pdb, "spec.minAvailable"), 2);
    ck_assert_ptr_null(at(pdb, "spec.maxUnavailable"));
    ck_assert_int_eq(cJSON_GetArraySize(at(pdb, "spec.selector.matchLabels")), 2);
    tk_free(&t);
}
END_TEST

START_TEST(test_pod)
{
    struct tk t;
    tk_init(&t, 3, ZONES3);
    t.psc.restart_token = strdup("3");
    two_passes(&t);
    const cJSON *p = tk_get(&t, PLAN_POD, "orders-2");
    ck_assert_ptr_nonnull(p);
    char rev[11];
    plan_revision(&t.psc, rev);
    const cJSON *l = at(p, "metadata.labels");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(l, PSC_LABEL_REVISION)->valuestring, rev);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(l, PSC_LABEL_RESTART)->valuestring, "3");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(l, PLAN_LABEL_MEMBER)->valuestring,
                     "orders-2");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(l, PSC_LABEL_ORDINAL)->valuestring, "2");
    ck_assert_str_eq(at_str(p, "spec.hostname"), "orders-2");
    ck_assert_str_eq(at_str(p, "spec.subdomain"), "orders-headless");
    const cJSON *x = at(p, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuring"
                           "Execution.nodeSelectorTerms.0.matchExpressions.0");
    ck_assert_str_eq(at_str(x, "key"), PSC_LABEL_ZONE);
    ck_assert_str_eq(at_str(x, "operator"), "In");
    ck_assert_str_eq(at_str(x, "values.0"), "zone-c");
    const cJSON *c = at(p, "spec.containers.0");
    ck_assert_str_eq(at_str(c, "image"), "apache/kafka:3.9.0");
    ck_assert_str_eq(at_str(c, "resources.requests.memory"), "8Gi");
    ck_assert_int_eq((int)at_num(c, "ports.0.containerPort"), 9092);
    ck_assert_str_eq(at_str(c, "ports.1.name"), "metrics");
    /* Ready = brokerstate RUNNING on the member's own metrics endpoint */
    const char *probe = at_str(c, "readinessProbe.exec.command.2");
    ck_assert_ptr_nonnull(strstr(probe, "/dev/tcp/127.0.0.1/9404"));
    ck_assert_ptr_nonnull(strstr(probe, "kafka_server_kafkaserver_brokerstate"));
    ck_assert_str_eq(at_str(c, "command.0"), "/opt/kafka/bin/kafka-server-start.sh");
    ck_assert_str_eq(at_str(c, "command.1"), "/var/run/ballast/server.properties");
    ck_assert_ptr_nonnull(strstr(at_str(c, "env.0.value"), "jmx_prometheus_javaagent.jar=9404:"));
    ck_assert_int_eq((int)at_num(p, "spec.terminationGracePeriodSeconds"), 120);
    ck_assert(cJSON_IsFalse(at(p, "spec.enableServiceLinks")));
    /* the init container writes the member's own lines and formats its log dir */
    const cJSON *init = at(p, "spec.initContainers.0");
    ck_assert_str_eq(at_str(init, "name"), "format");
    ck_assert_str_eq(at_str(init, "image"), "apache/kafka:3.9.0");
    ck_assert_ptr_nonnull(
        strstr(at_str(init, "command.2"), "kafka-storage.sh format --ignore-formatted"));
    ck_assert_str_eq(at_str(init, "env.0.name"), "BALLAST_MEMBER_PROPERTIES");
    const char *mp = at_str(init, "env.0.value");
    ck_assert_ptr_nonnull(strstr(mp, "\nnode.id=2\n"));
    ck_assert_ptr_nonnull(strstr(mp, "\nprocess.roles=broker,controller\n"));
    ck_assert_ptr_nonnull(strstr(mp, "\nbroker.rack=zone-c\n"));
    ck_assert_ptr_nonnull(
        strstr(mp, "\nlisteners=CLIENT://:9092,REPLICATION://:9091,CONTROLLER://:9093\n"));
    ck_assert_ptr_nonnull(strstr(mp,
                                 "\nadvertised.listeners="
                                 "CLIENT://orders-2.orders-headless.streaming.svc:9092,"
                                 "REPLICATION://orders-2.orders-headless.streaming.svc:9091\n"));
    char cid[23];
    plan_cluster_id(&t.psc, cid);
    ck_assert_str_eq(at_str(init, "env.1.value"), cid);
    ck_assert_str_eq(at_str(p, "spec.volumes.0.persistentVolumeClaim.claimName"), "data-orders-2");
    char cm[64];
    snprintf(cm, sizeof cm, "orders-config-%s", t.plan->update_revision);
    ck_assert_str_eq(at_str(p, "spec.volumes.1.configMap.name"), cm);
    ck_assert_ptr_nonnull(at(p, "spec.volumes.2.emptyDir"));
    tk_free(&t);
}
END_TEST

/* A config change makes a new immutable ConfigMap; the old one goes once no pod mounts it. */
START_TEST(test_config_per_revision)
{
    struct tk t;
    tk_init(&t, 3, ZONES3);
    tk_health_all(&t, 3, 0, 0);
    ck_assert_int_le(tk_converge(&t, 8), 8);
    char old[64], cur[64];
    ck_assert_int_eq(tk_plan(&t), 0);
    snprintf(old, sizeof old, "orders-config-%s", t.plan->update_revision);
    ck_assert_ptr_nonnull(tk_get(&t, PLAN_CONFIGMAP, old));
    free(t.psc.spec.config[0].value);
    t.psc.spec.config[0].value = strdup("12");
    ck_assert_int_eq(tk_plan(&t), 0);
    snprintf(cur, sizeof cur, "orders-config-%s", t.plan->update_revision);
    ck_assert_str_ne(old, cur);
    ck_assert_ptr_nonnull(tk_action(t.plan, PLAN_CREATE, PLAN_CONFIGMAP, cur));
    ck_assert_ptr_null(tk_action(t.plan, PLAN_DELETE, PLAN_CONFIGMAP, old)); /* still mounted */
    ck_assert_ptr_null(tk_action(t.plan, PLAN_UPDATE, PLAN_CONFIGMAP, old));
    /* roll every member through (the gates hold throughout) */
    ck_assert_int_le(tk_converge(&t, 40), 40);
    ck_assert_ptr_null(tk_get(&t, PLAN_CONFIGMAP, old));
    ck_assert_ptr_nonnull(tk_get(&t, PLAN_CONFIGMAP, cur));
    tk_free(&t);
}
END_TEST

/* What the API server adds is not drift; what someone changes in ballast's fields is. */
START_TEST(test_drift)
{
    struct tk t;
    tk_init(&t, 3, ZONES3);
    tk_health_all(&t, 3, 0, 0);
    ck_assert_int_le(tk_converge(&t, 8), 8);
    /* server defaults on a Service and a foreign label on the ConfigMap: no drift */
    cJSON *svc = tk_get(&t, PLAN_SERVICE, "orders-1");
    cJSON *spec = cJSON_GetObjectItemCaseSensitive(svc, "spec");
    cJSON_AddStringToObject(spec, "sessionAffinity", "None");
    cJSON_AddItemToObject(spec, "clusterIPs", cJSON_CreateStringArray((const char *[]){"10.1"}, 1));
    cJSON *pdb = tk_get(&t, PLAN_PDB, "orders");
    cJSON_AddStringToObject((cJSON *)at(pdb, "metadata.labels"), "team", "payments");
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->nactions, 0);

    /* someone edits the selector and the PDB's budget: both updated */
    cJSON_ReplaceItemInObjectCaseSensitive(spec, "selector",
                                           cJSON_Parse("{\"app\":\"something-else\"}"));
    cJSON_AddNumberToObject((cJSON *)at(pdb, "spec"), "maxUnavailable", 3);
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->nactions, 2);
    const struct plan_action *u = tk_action(t.plan, PLAN_UPDATE, PLAN_SERVICE, "orders-1");
    ck_assert_ptr_nonnull(u);
    ck_assert_str_eq(at_str(u->object, "spec.selector.ballast.dev/member"), "orders-1");
    ck_assert_ptr_null(at(u->object, "spec.selector.app"));
    ck_assert_str_eq(at_str(u->object, "spec.clusterIP"), "10.96.0.10"); /* kept */
    ck_assert_ptr_nonnull(at(u->object, "metadata.resourceVersion"));
    const struct plan_action *uc = tk_action(t.plan, PLAN_UPDATE, PLAN_PDB, "orders");
    ck_assert_ptr_nonnull(uc);
    ck_assert_str_eq(at_str(uc->object, "metadata.labels.team"), "payments");
    ck_assert_int_eq((int)at_num(uc->object, "spec.minAvailable"), 2);
    ck_assert_ptr_null(at(uc->object, "spec.maxUnavailable"));
    tk_apply(&t);
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->nactions, 0);

    /* pods are never updated in place, whatever changed on them */
    cJSON *pod = tk_get(&t, PLAN_POD, "orders-0");
    cJSON_DeleteItemFromObjectCaseSensitive((cJSON *)at(pod, "metadata"), "ownerReferences");
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->nactions, 0);

    /* storage grows: only the request changes on the PVC, immutable fields kept */
    cJSON *pvc = tk_get(&t, PLAN_PVC, "data-orders-0");
    cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(pvc, "spec"), "volumeName", "pv-7");
    free(t.psc.spec.storage_size);
    t.psc.spec.storage_size = strdup("200Gi");
    t.psc.spec.storage_bytes = 200LL << 30;
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(tk_count(t.plan, PLAN_UPDATE, PLAN_PVC), 3);
    ck_assert_int_eq(t.plan->nactions, 3);
    u = tk_action(t.plan, PLAN_UPDATE, PLAN_PVC, "data-orders-0");
    ck_assert_str_eq(at_str(u->object, "spec.resources.requests.storage"), "200Gi");
    ck_assert_str_eq(at_str(u->object, "spec.volumeName"), "pv-7");
    ck_assert_int_eq(t.plan->restart.set, 0); /* a bigger volume needs no restart */
    tk_free(&t);
}
END_TEST

/* The planner on a PSC as psc_parse reads it from the API (the reference example):
 * converges, then stays quiet. */
START_TEST(test_with_psc_parse)
{
    static const char *const doc =
        "{\"apiVersion\":\"ballast.dev/v1alpha1\",\"kind\":\"PhysicalStatefulCluster\","
        "\"metadata\":{\"name\":\"orders\",\"namespace\":\"streaming\",\"uid\":\"u-1\","
        "\"generation\":4,\"annotations\":{\"ballast.dev/restart\":\"1\"}},"
        "\"spec\":{\"replicas\":6,\"image\":\"apache/kafka:3.9.0\","
        "\"zones\":[\"zone-a\",\"zone-b\",\"zone-c\"],"
        "\"config\":{\"num.partitions\":\"6\"},"
        "\"resources\":{\"requests\":{\"cpu\":\"2\",\"memory\":\"8Gi\"}},"
        "\"storage\":{\"size\":\"100Gi\",\"storageClassName\":\"zonal-ssd\"},"
        "\"listeners\":{\"client\":9092}}}";
    cJSON *obj = cJSON_Parse(doc);
    ck_assert_ptr_nonnull(obj);
    struct psc *parsed = NULL;
    struct err e = {0};
    int rc = psc_parse(obj, &parsed, &e);
    ck_assert_msg(rc == 0, "psc_parse: %s", e.msg);
    cJSON_Delete(obj);
    struct tk t;
    tk_init(&t, 1, ZONES3);
    /* swap the hand-built PSC for the parsed one; tk_free then frees nothing of it */
    struct psc hand = t.psc;
    t.psc = *parsed;
    tk_health_all(&t, 6, 0, 0);
    int passes = tk_converge(&t, 10);
    ck_assert_int_le(passes, 10);
    ck_assert_int_eq(t.pods.n, 6);
    ck_assert_str_eq(tk_pvc_zone(&t, 3), "zone-a");
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(t.psc.status, "placement");
    ck_assert_str_eq(at_str(pl, "zone-c.pods.1"), "orders-5");
    ck_assert_int_eq((int)at_num(t.psc.status, "observedGeneration"), 4);
    ck_assert_str_eq(at_str(tk_get(&t, PLAN_PVC, "data-orders-0"), "spec.storageClassName"),
                     "zonal-ssd");
    ck_assert_str_eq(
        at_str(tk_get(&t, PLAN_POD, "orders-0"), "metadata.labels.ballast.dev/restart"), "1");
    t.now += 60;
    ck_assert_int_eq(tk_plan(&t), 0);
    ck_assert_int_eq(t.plan->nactions, 0);
    ck_assert_int_eq(t.plan->status_changed, 0);
    /* hand the parsed struct back to psc_free, the hand-built one to tk_free */
    *parsed = t.psc;
    t.psc = hand;
    psc_free(parsed);
    tk_free(&t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("plan_render");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_owner_and_labels_everywhere);
    tcase_add_test(tc, test_configmap_layout);
    tcase_add_test(tc, test_quorum_for_life);
    tcase_add_test(tc, test_cluster_id);
    tcase_add_test(tc, test_config_per_revision);
    tcase_add_test(tc, test_services_pvc_pdb);
    tcase_add_test(tc, test_pod);
    tcase_add_test(tc, test_drift);
    tcase_add_test(tc, test_with_psc_parse);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
