/* render.c — the desired child objects of one PSC, built from the parsed spec and
 * each member's zone. Every object carries ballast's labels and a controller owner
 * reference to the PSC, so the informers see it and deleting the PSC collects it.
 * The layout is documented in plan.h. All functions return an owned tree or NULL (OOM). */
#include "plan/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

#define MEMBER_APP "ballast-member"
#define CONFIG_DIR "/etc/ballast"          /* the revision's ConfigMap, read-only */
#define RUN_DIR    "/var/run/ballast"      /* emptyDir: the member's assembled config */
#define DATA_DIR   "/var/lib/ballast/data" /* the member's PVC */
#define LOG_DIR    DATA_DIR "/kafka"       /* a directory of its own: lost+found stays out */
#define KAFKA_BIN  "/opt/kafka/bin"        /* as in the apache/kafka image */
#define JMX_AGENT  "/opt/kafka/agent/jmx_prometheus_javaagent.jar"
#define FS_GROUP   1000 /* the kafka user of ballast's and Apache's images */

static cJSON *labels_common(struct pctx *c)
{
    cJSON *l = cJSON_CreateObject();
    if (l == NULL || plan_jset_str(l, PSC_LABEL_MANAGED_BY, "ballast") != 0 ||
        plan_jset_str(l, PSC_LABEL_INSTANCE, c->psc->name) != 0) {
        cJSON_Delete(l);
        return NULL;
    }
    return l;
}

static int labels_member(cJSON *l, const struct pmember *m)
{
    char ord[16];
    snprintf(ord, sizeof ord, "%d", m->ordinal);
    if (plan_jset_str(l, PSC_LABEL_ORDINAL, ord) != 0 ||
        plan_jset_str(l, PLAN_LABEL_MEMBER, m->name) != 0)
        return ERR_NOMEM;
    return 0;
}

static cJSON *owner_ref(struct pctx *c)
{
    cJSON *r = cJSON_CreateObject();
    if (r == NULL || plan_jset_str(r, "apiVersion", PSC_API_VERSION) != 0 ||
        plan_jset_str(r, "kind", PSC_KIND) != 0 || plan_jset_str(r, "name", c->psc->name) != 0 ||
        plan_jset_str(r, "uid", c->psc->uid) != 0 ||
        plan_jset(r, "controller", cJSON_CreateTrue()) != 0 ||
        plan_jset(r, "blockOwnerDeletion", cJSON_CreateTrue()) != 0) {
        cJSON_Delete(r);
        return NULL;
    }
    return r;
}

/* object with apiVersion, kind and metadata{name, namespace, labels (taken), ownerReferences} */
static cJSON *new_object(struct pctx *c, const char *api, const char *kind, const char *name,
                         cJSON *labels)
{
    cJSON *o = cJSON_CreateObject(), *md = NULL, *refs = NULL;
    if (o == NULL || labels == NULL)
        goto fail;
    if (plan_jset_str(o, "apiVersion", api) != 0 || plan_jset_str(o, "kind", kind) != 0 ||
        (md = plan_jobj_add(o, "metadata")) == NULL || plan_jset_str(md, "name", name) != 0 ||
        plan_jset_str(md, "namespace", c->psc->ns) != 0)
        goto fail;
    if (plan_jset(md, "labels", labels) != 0) {
        labels = NULL;
        goto fail;
    }
    labels = NULL;
    /* PVCs carry no owner reference: deleting a PSC must not garbage-collect its data
     * (as Strimzi's deleteClaim: false). They are found by the instance label, and a
     * PSC created again under the same name adopts them. */
    if (strcmp(kind, "PersistentVolumeClaim") == 0)
        return o;
    if ((refs = plan_jarr_add(md, "ownerReferences")) == NULL)
        goto fail;
    cJSON *r = owner_ref(c);
    if (r == NULL || !cJSON_AddItemToArray(refs, r)) {
        cJSON_Delete(r);
        goto fail;
    }
    return o;
fail:
    cJSON_Delete(labels);
    cJSON_Delete(o);
    return NULL;
}

/* Java properties escaping, so any key or value in spec.config reads back as written. */
static int prop_escape(struct buf *b, const char *s, bool key)
{
    for (size_t i = 0; s[i] != '\0'; i++) {
        unsigned char ch = (unsigned char)s[i];
        int rc;
        if (ch == '\\')
            rc = buf_puts(b, "\\\\");
        else if (ch == '\n')
            rc = buf_puts(b, "\\n");
        else if (ch == '\r')
            rc = buf_puts(b, "\\r");
        else if (ch == '\t')
            rc = buf_puts(b, "\\t");
        else if ((key || i == 0) && ch == ' ')
            rc = buf_puts(b, "\\ ");
        else if ((key || i == 0) && (ch == '=' || ch == ':' || ch == '#' || ch == '!'))
            rc = buf_printf(b, "\\%c", ch);
        else
            rc = buf_append(b, &s[i], 1);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* Kafka listener names: the user's listener names upper-cased, then ballast's own. */
static int listener_name(struct buf *b, const char *name)
{
    for (const char *p = name; *p != '\0'; p++)
        if (buf_printf(b, "%c",
                       *p >= 'a' && *p <= 'z' ? *p - 'a' + 'A'
                       : *p == '-'            ? '_'
                                              : *p) != 0)
            return -1;
    return 0;
}

/* The member's stable DNS name: <member>.<psc>-headless.<ns>.svc (resolved through the
 * pods' search path, so the cluster domain does not matter). */
static int member_host(struct buf *b, struct pctx *c, int ordinal)
{
    return buf_printf(b, "%s-%d.%s-headless.%s.svc", c->psc->name, ordinal, c->psc->name,
                      c->psc->ns);
}

/* The revision's server.properties: spec.config, then what is the same on every member
 * (quorum, listener map, log directory). What differs per member comes from the pod
 * (plan_render_pod's BALLAST_MEMBER_PROPERTIES). */
static char *server_properties(struct pctx *c)
{
    const struct psc_spec *s = &c->psc->spec;
    struct buf b = {0};
    int rc = buf_printf(&b,
                        "# rendered by ballast for %s/%s, revision %s; edit the PSC's spec.config "
                        "instead\n",
                        c->psc->ns, c->psc->name, c->revision);
    for (int i = 0; i < s->nconfig && rc == 0; i++) {
        const struct psc_kv *kv = &s->config[i];
        if (psc_config_owned(kv->key)) /* refused by psc_parse; never rendered */
            continue;
        rc |= prop_escape(&b, kv->key, true);
        rc |= buf_puts(&b, "=");
        rc |= prop_escape(&b, kv->value, false);
        rc |= buf_puts(&b, "\n");
    }
    rc |= buf_puts(&b, "# the cluster's shape, rendered by ballast\ncontroller.quorum.voters=");
    for (int v = 0; v < c->voters; v++) {
        rc |= buf_printf(&b, "%s%d@", v ? "," : "", v);
        rc |= member_host(&b, c, v);
        rc |= buf_printf(&b, ":%d", PSC_CONTROLLER_PORT);
    }
    rc |= buf_puts(&b, "\ncontroller.listener.names=CONTROLLER\n"
                       "inter.broker.listener.name=REPLICATION\n"
                       "listener.security.protocol.map=");
    for (int i = 0; i < s->nlisteners; i++) {
        rc |= listener_name(&b, s->listeners[i].name);
        rc |= buf_puts(&b, ":PLAINTEXT,");
    }
    rc |= buf_puts(&b, "REPLICATION:PLAINTEXT,CONTROLLER:PLAINTEXT\nlog.dirs=" LOG_DIR "\n");
    if (rc != 0) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

/* What differs per member: identity, roles, rack, listeners and the addresses it
 * advertises. Appended to the revision's server.properties by the pod's init container. */
static char *member_properties(struct pctx *c, const struct pmember *m)
{
    const struct psc_spec *s = &c->psc->spec;
    bool voter = m->ordinal < c->voters;
    struct buf b = {0};
    int rc = buf_printf(&b, "# member %s\nnode.id=%d\nprocess.roles=%s\nbroker.rack=", m->name,
                        m->ordinal, voter ? "broker,controller" : "broker");
    rc |= prop_escape(&b, m->zone ? m->zone : "", false);
    rc |= buf_puts(&b, "\nlisteners=");
    for (int i = 0; i < s->nlisteners; i++) {
        rc |= listener_name(&b, s->listeners[i].name);
        rc |= buf_printf(&b, "://:%d,", s->listeners[i].port);
    }
    rc |= buf_printf(&b, "REPLICATION://:%d", PSC_REPLICATION_PORT);
    if (voter)
        rc |= buf_printf(&b, ",CONTROLLER://:%d", PSC_CONTROLLER_PORT);
    rc |= buf_puts(&b, "\nadvertised.listeners=");
    for (int i = 0; i < s->nlisteners; i++) {
        rc |= listener_name(&b, s->listeners[i].name);
        rc |= buf_puts(&b, "://");
        rc |= member_host(&b, c, m->ordinal);
        rc |= buf_printf(&b, ":%d,", s->listeners[i].port);
    }
    rc |= buf_puts(&b, "REPLICATION://");
    rc |= member_host(&b, c, m->ordinal);
    rc |= buf_printf(&b, ":%d\n", PSC_REPLICATION_PORT);
    if (rc != 0) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

/* The Prometheus JMX exporter's rules: exactly the names the default gates, the drain
 * check and the readiness probe read. Few MBean domains, so a scrape stays cheap. */
static const char jmx_exporter_yaml[] =
    "# rendered by ballast: the metric names its gates and the readiness probe read\n"
    "lowercaseOutputName: true\n"
    "lowercaseOutputLabelNames: true\n"
    "includeObjectNames:\n"
    "  - \"kafka.server:type=ReplicaManager,*\"\n"
    "  - \"kafka.server:type=KafkaServer,*\"\n"
    "  - \"kafka.controller:type=KafkaController,*\"\n"
    "  - \"kafka.server:type=BrokerTopicMetrics,*\"\n"
    "  - \"kafka.server:type=raft-metrics\"\n"
    "rules:\n"
    "  - pattern: 'kafka.(server|controller)<type=(ReplicaManager|KafkaServer|KafkaController), "
    "name=(\\w+)><>Value'\n"
    "    name: kafka_$1_$2_$3\n"
    "    type: GAUGE\n"
    "  - pattern: 'kafka.server<type=BrokerTopicMetrics, name=(\\w+)><>Count'\n"
    "    name: kafka_server_brokertopicmetrics_$1_total\n"
    "    type: COUNTER\n"
    "  - pattern: 'kafka.server<type=raft-metrics><>(current-leader|current-epoch|current-vote|"
    "high-watermark|log-end-offset)'\n"
    "    name: kafka_server_raftmetrics_$1\n"
    "    type: GAUGE\n";

void plan_config_name(const struct pctx *c, const char *revision, char *out, size_t n)
{
    snprintf(out, n, "%s-config-%s", c->psc->name, revision);
}

cJSON *plan_render_configmap(struct pctx *c)
{
    char name[300];
    plan_config_name(c, c->revision, name, sizeof name);
    cJSON *l = labels_common(c);
    if (l != NULL && plan_jset_str(l, PSC_LABEL_REVISION, c->revision) != 0) {
        cJSON_Delete(l);
        l = NULL;
    }
    cJSON *o = new_object(c, "v1", "ConfigMap", name, l);
    cJSON *data = o ? plan_jobj_add(o, "data") : NULL;
    char *props = data ? server_properties(c) : NULL;
    int rc = props == NULL || plan_jset_str(data, "server.properties", props) != 0 ||
             plan_jset_str(data, "jmx-exporter.yaml", jmx_exporter_yaml) != 0 ||
             plan_jset(o, "immutable", cJSON_CreateTrue()) != 0;
    free(props);
    if (rc != 0) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

cJSON *plan_render_accepted(struct pctx *c)
{
    char name[300], gen[32];
    snprintf(name, sizeof name, "%s%s", c->psc->name, PLAN_ACCEPTED_SUFFIX);
    snprintf(gen, sizeof gen, "%lld", c->psc->generation);
    cJSON *o = new_object(c, "v1", "ConfigMap", name, labels_common(c));
    cJSON *data = o ? plan_jobj_add(o, "data") : NULL;
    char *spec = c->in->spec != NULL ? cJSON_PrintUnformatted(c->in->spec) : NULL;
    if (data == NULL || spec == NULL || plan_jset_str(data, PLAN_ACCEPTED_KEY, spec) != 0 ||
        plan_jset_str(data, "generation", gen) != 0) {
        free(spec);
        cJSON_Delete(o);
        return NULL;
    }
    free(spec);
    return o;
}

static int add_port(cJSON *ports, const char *name, int port, bool service)
{
    cJSON *p = cJSON_CreateObject();
    if (p == NULL || !cJSON_AddItemToArray(ports, p))
        goto fail;
    if (plan_jset_str(p, "name", name) != 0 ||
        plan_jset(p, service ? "port" : "containerPort", cJSON_CreateNumber(port)) != 0 ||
        plan_jset_str(p, "protocol", "TCP") != 0)
        return ERR_NOMEM;
    if (service && plan_jset(p, "targetPort", cJSON_CreateNumber(port)) != 0)
        return ERR_NOMEM;
    return 0;
fail:
    cJSON_Delete(p);
    return ERR_NOMEM;
}

static int add_ports(struct pctx *c, cJSON *parent, bool service)
{
    cJSON *ports = plan_jarr_add(parent, "ports");
    if (ports == NULL)
        return ERR_NOMEM;
    for (int i = 0; i < c->psc->spec.nlisteners; i++)
        if (add_port(ports, c->psc->spec.listeners[i].name, c->psc->spec.listeners[i].port,
                     service) != 0)
            return ERR_NOMEM;
    return add_port(ports, "metrics", c->psc->spec.metrics_port, service);
}

static cJSON *member_selector(struct pctx *c)
{
    cJSON *s = cJSON_CreateObject();
    if (s == NULL || plan_jset_str(s, PSC_LABEL_INSTANCE, c->psc->name) != 0 ||
        plan_jset_str(s, PSC_LABEL_NAME, MEMBER_APP) != 0) {
        cJSON_Delete(s);
        return NULL;
    }
    return s;
}

cJSON *plan_render_headless(struct pctx *c)
{
    char name[300];
    snprintf(name, sizeof name, "%s-headless", c->psc->name);
    cJSON *o = new_object(c, "v1", "Service", name, labels_common(c));
    cJSON *spec = o ? plan_jobj_add(o, "spec") : NULL;
    if (spec == NULL || plan_jset_str(spec, "clusterIP", "None") != 0 ||
        plan_jset(spec, "publishNotReadyAddresses", cJSON_CreateTrue()) != 0 ||
        plan_jset(spec, "selector", member_selector(c)) != 0 || add_ports(c, spec, true) != 0) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

cJSON *plan_render_member_service(struct pctx *c, const struct pmember *m)
{
    cJSON *l = labels_common(c);
    if (l != NULL && labels_member(l, m) != 0) {
        cJSON_Delete(l);
        l = NULL;
    }
    cJSON *o = new_object(c, "v1", "Service", m->name, l);
    cJSON *spec = o ? plan_jobj_add(o, "spec") : NULL;
    cJSON *sel = spec ? plan_jobj_add(spec, "selector") : NULL;
    /* Not-ready addresses are published so peers reach a member while it starts up. */
    if (sel == NULL || plan_jset_str(sel, PLAN_LABEL_MEMBER, m->name) != 0 ||
        plan_jset_str(spec, "type", "ClusterIP") != 0 ||
        plan_jset(spec, "publishNotReadyAddresses", cJSON_CreateTrue()) != 0 ||
        add_ports(c, spec, true) != 0) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* minAvailable = every member that exists or should exist, less one. Not maxUnavailable:
 * the API server counts that against spec.replicas (the scale subresource) while the
 * healthy pod of a member that is leaving still counts as healthy, so during a scale-down
 * a drain could take a wanted member down while another one is missing. */
cJSON *plan_render_pdb(struct pctx *c)
{
    int members = 0;
    for (int i = 0; i < c->nm; i++)
        members += c->m[i].wanted || c->m[i].pod != NULL;
    cJSON *o = new_object(c, "policy/v1", "PodDisruptionBudget", c->psc->name, labels_common(c));
    cJSON *spec = o ? plan_jobj_add(o, "spec") : NULL;
    cJSON *sel = spec ? plan_jobj_add(spec, "selector") : NULL;
    if (sel == NULL ||
        plan_jset(spec, "minAvailable", cJSON_CreateNumber(members > 0 ? members - 1 : 0)) != 0 ||
        plan_jset(sel, "matchLabels", member_selector(c)) != 0) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

cJSON *plan_render_pvc(struct pctx *c, const struct pmember *m)
{
    char name[300];
    snprintf(name, sizeof name, "data-%s", m->name);
    cJSON *l = labels_common(c);
    char voters[8];
    snprintf(voters, sizeof voters, "%d", c->voters);
    if (l != NULL && (labels_member(l, m) != 0 || plan_jset_str(l, PSC_LABEL_ZONE, m->zone) != 0 ||
                      plan_jset_str(l, PLAN_LABEL_VOTERS, voters) != 0)) {
        cJSON_Delete(l);
        l = NULL;
    }
    cJSON *o = new_object(c, "v1", "PersistentVolumeClaim", name, l);
    cJSON *spec = o ? plan_jobj_add(o, "spec") : NULL;
    cJSON *modes = spec ? plan_jarr_add(spec, "accessModes") : NULL;
    cJSON *req = spec ? plan_jobj_add(spec, "resources") : NULL;
    req = req ? plan_jobj_add(req, "requests") : NULL;
    cJSON *rwo = cJSON_CreateString("ReadWriteOnce");
    if (modes == NULL || rwo == NULL || !cJSON_AddItemToArray(modes, rwo)) {
        cJSON_Delete(rwo);
        goto fail;
    }
    if (req == NULL || plan_jset_str(req, "storage", c->psc->spec.storage_size) != 0)
        goto fail;
    if (c->psc->spec.storage_class != NULL &&
        plan_jset_str(spec, "storageClassName", c->psc->spec.storage_class) != 0)
        goto fail;
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

static int add_env(cJSON *env, const char *name, const char *value)
{
    cJSON *v = cJSON_CreateObject();
    if (v == NULL || !cJSON_AddItemToArray(env, v)) {
        cJSON_Delete(v);
        return ERR_NOMEM;
    }
    if (plan_jset_str(v, "name", name) != 0 || plan_jset_str(v, "value", value) != 0)
        return ERR_NOMEM;
    return 0;
}

static int pod_affinity(cJSON *spec, const char *zone)
{
    cJSON *na = plan_jobj_add(spec, "affinity");
    na = na ? plan_jobj_add(na, "nodeAffinity") : NULL;
    na = na ? plan_jobj_add(na, "requiredDuringSchedulingIgnoredDuringExecution") : NULL;
    cJSON *terms = na ? plan_jarr_add(na, "nodeSelectorTerms") : NULL;
    cJSON *term = cJSON_CreateObject();
    if (terms == NULL || term == NULL || !cJSON_AddItemToArray(terms, term)) {
        cJSON_Delete(term);
        return ERR_NOMEM;
    }
    cJSON *exprs = plan_jarr_add(term, "matchExpressions");
    cJSON *x = cJSON_CreateObject();
    if (exprs == NULL || x == NULL || !cJSON_AddItemToArray(exprs, x)) {
        cJSON_Delete(x);
        return ERR_NOMEM;
    }
    cJSON *vals = NULL;
    if (plan_jset_str(x, "key", PSC_LABEL_ZONE) != 0 || plan_jset_str(x, "operator", "In") != 0 ||
        (vals = plan_jarr_add(x, "values")) == NULL)
        return ERR_NOMEM;
    cJSON *z = cJSON_CreateString(zone);
    if (z == NULL || !cJSON_AddItemToArray(vals, z)) {
        cJSON_Delete(z);
        return ERR_NOMEM;
    }
    return 0;
}

static int add_mount(cJSON *mounts, const char *name, const char *path, bool ro)
{
    cJSON *m = cJSON_CreateObject();
    if (m == NULL || !cJSON_AddItemToArray(mounts, m)) {
        cJSON_Delete(m);
        return ERR_NOMEM;
    }
    if (plan_jset_str(m, "name", name) != 0 || plan_jset_str(m, "mountPath", path) != 0 ||
        (ro && plan_jset(m, "readOnly", cJSON_CreateTrue()) != 0))
        return ERR_NOMEM;
    return 0;
}

/* every container of a member sees the same three volumes at the same paths */
static int member_mounts(cJSON *ctr, bool config_rw)
{
    cJSON *mounts = plan_jarr_add(ctr, "volumeMounts");
    if (mounts == NULL || add_mount(mounts, "data", DATA_DIR, false) != 0 ||
        add_mount(mounts, "config", CONFIG_DIR, true) != 0 ||
        add_mount(mounts, "run", RUN_DIR, !config_rw) != 0)
        return ERR_NOMEM;
    return 0;
}

static int pod_volumes(struct pctx *c, const struct pmember *m, cJSON *spec)
{
    char claim[300], cm[300];
    snprintf(claim, sizeof claim, "data-%s", m->name);
    plan_config_name(c, c->revision, cm, sizeof cm);
    cJSON *vols = plan_jarr_add(spec, "volumes");
    if (vols == NULL)
        return ERR_NOMEM;
    cJSON *v[3];
    for (int i = 0; i < 3; i++) {
        v[i] = cJSON_CreateObject();
        if (v[i] == NULL || !cJSON_AddItemToArray(vols, v[i])) {
            cJSON_Delete(v[i]);
            return ERR_NOMEM;
        }
    }
    cJSON *pvc = NULL, *cmv = NULL;
    if (plan_jset_str(v[0], "name", "data") != 0 ||
        (pvc = plan_jobj_add(v[0], "persistentVolumeClaim")) == NULL ||
        plan_jset_str(pvc, "claimName", claim) != 0 || plan_jset_str(v[1], "name", "config") != 0 ||
        (cmv = plan_jobj_add(v[1], "configMap")) == NULL || plan_jset_str(cmv, "name", cm) != 0 ||
        plan_jset_str(v[2], "name", "run") != 0 || plan_jobj_add(v[2], "emptyDir") == NULL)
        return ERR_NOMEM;
    return 0;
}

static int set_command(cJSON *ctr, const char *const *argv)
{
    cJSON *cmd = plan_jarr_add(ctr, "command");
    if (cmd == NULL)
        return ERR_NOMEM;
    for (int i = 0; argv[i] != NULL; i++) {
        cJSON *a = cJSON_CreateString(argv[i]);
        if (a == NULL || !cJSON_AddItemToArray(cmd, a)) {
            cJSON_Delete(a);
            return ERR_NOMEM;
        }
    }
    return 0;
}

/* The init container: the member's configuration is the revision's server.properties
 * plus its own lines, written once per pod into the emptyDir; then the log directory is
 * formatted with the PSC's cluster id unless it already is (a member that comes back
 * keeps its data). */
static const char format_script[] = "set -eu\n"
                                    "f=" RUN_DIR "/server.properties\n"
                                    "cat " CONFIG_DIR "/server.properties > \"$f.tmp\"\n"
                                    "printf '%s\\n' \"$BALLAST_MEMBER_PROPERTIES\" >> \"$f.tmp\"\n"
                                    "mv \"$f.tmp\" \"$f\"\n"
                                    "mkdir -p " LOG_DIR "\n"
                                    "exec " KAFKA_BIN "/kafka-storage.sh format --ignore-formatted"
                                    " --cluster-id \"$BALLAST_CLUSTER_ID\" --config \"$f\"\n";

/* Ready = the broker says RUNNING (kafka_server_kafkaserver_brokerstate 3) on its own
 * metrics endpoint, not that a port is open: a broker accepts connections long before
 * it has caught up with the metadata log. */
static int readiness_probe(struct pctx *c, cJSON *ctr)
{
    char script[512];
    snprintf(script, sizeof script,
             "exec 3<>/dev/tcp/127.0.0.1/%d && printf 'GET %s HTTP/1.0\\r\\n\\r\\n' >&3 && "
             "grep -qE '^kafka_server_kafkaserver_brokerstate(\\{[^}]*\\})? 3(\\.0)?\\r?$' <&3",
             c->psc->spec.metrics_port, c->psc->spec.metrics_path);
    const char *const argv[] = {"bash", "-c", script, NULL};
    cJSON *rp = plan_jobj_add(ctr, "readinessProbe");
    cJSON *ex = rp ? plan_jobj_add(rp, "exec") : NULL;
    if (ex == NULL || set_command(ex, argv) != 0 ||
        plan_jset(rp, "periodSeconds", cJSON_CreateNumber(5)) != 0 ||
        plan_jset(rp, "timeoutSeconds", cJSON_CreateNumber(4)) != 0 ||
        plan_jset(rp, "failureThreshold", cJSON_CreateNumber(3)) != 0)
        return ERR_NOMEM;
    return 0;
}

cJSON *plan_render_pod(struct pctx *c, const struct pmember *m)
{
    const struct psc_spec *s = &c->psc->spec;
    cJSON *l = labels_common(c);
    if (l != NULL &&
        (labels_member(l, m) != 0 || plan_jset_str(l, PSC_LABEL_NAME, MEMBER_APP) != 0 ||
         plan_jset_str(l, PSC_LABEL_REVISION, c->revision) != 0 ||
         (c->restart_label[0] != '\0' &&
          plan_jset_str(l, PSC_LABEL_RESTART, c->restart_label) != 0))) {
        cJSON_Delete(l);
        l = NULL;
    }
    char headless[300], agent[512];
    snprintf(headless, sizeof headless, "%s-headless", c->psc->name);
    snprintf(agent, sizeof agent, "-javaagent:" JMX_AGENT "=%d:" CONFIG_DIR "/jmx-exporter.yaml",
             s->metrics_port);
    char *props = member_properties(c, m);
    cJSON *o = props ? new_object(c, "v1", "Pod", m->name, l) : (cJSON_Delete(l), NULL);
    cJSON *spec = o ? plan_jobj_add(o, "spec") : NULL;
    cJSON *ctrs = spec ? plan_jarr_add(spec, "containers") : NULL;
    cJSON *inits = spec ? plan_jarr_add(spec, "initContainers") : NULL;
    cJSON *ctr = cJSON_CreateObject(), *init = cJSON_CreateObject();
    if (ctrs == NULL || inits == NULL || ctr == NULL || init == NULL) {
        cJSON_Delete(ctr);
        cJSON_Delete(init);
        goto fail;
    }
    cJSON_AddItemToArray(ctrs, ctr);
    cJSON_AddItemToArray(inits, init);
    cJSON *sc = NULL;
    if (plan_jset_str(spec, "hostname", m->name) != 0 ||
        plan_jset_str(spec, "subdomain", headless) != 0 ||
        plan_jset(spec, "terminationGracePeriodSeconds", cJSON_CreateNumber(s->grace_seconds)) !=
            0 ||
        /* no KAFKA_* variables from Services named kafka: the engine's scripts read them */
        plan_jset(spec, "enableServiceLinks", cJSON_CreateFalse()) != 0 ||
        (sc = plan_jobj_add(spec, "securityContext")) == NULL ||
        plan_jset(sc, "fsGroup", cJSON_CreateNumber(FS_GROUP)) != 0 ||
        plan_jset_str(sc, "fsGroupChangePolicy", "OnRootMismatch") != 0 ||
        pod_affinity(spec, m->zone) != 0 || pod_volumes(c, m, spec) != 0)
        goto fail;

    const char *const fmt_argv[] = {"sh", "-c", format_script, NULL};
    cJSON *ienv = NULL;
    if (plan_jset_str(init, "name", "format") != 0 || plan_jset_str(init, "image", s->image) != 0 ||
        set_command(init, fmt_argv) != 0 || (ienv = plan_jarr_add(init, "env")) == NULL ||
        add_env(ienv, "BALLAST_MEMBER_PROPERTIES", props) != 0 ||
        add_env(ienv, "BALLAST_CLUSTER_ID", c->cluster_id) != 0 || member_mounts(init, true) != 0)
        goto fail;

    const char *const run_argv[] = {KAFKA_BIN "/kafka-server-start.sh",
                                    RUN_DIR "/server.properties", NULL};
    cJSON *env = NULL;
    if (plan_jset_str(ctr, "name", "engine") != 0 || plan_jset_str(ctr, "image", s->image) != 0 ||
        set_command(ctr, run_argv) != 0 || add_ports(c, ctr, false) != 0 ||
        (env = plan_jarr_add(ctr, "env")) == NULL || add_env(env, "KAFKA_OPTS", agent) != 0 ||
        member_mounts(ctr, false) != 0 || readiness_probe(c, ctr) != 0)
        goto fail;
    if (s->resources != NULL &&
        (plan_jset(ctr, "resources", cJSON_Duplicate(s->resources, true)) != 0 ||
         plan_jset(init, "resources", cJSON_Duplicate(s->resources, true)) != 0))
        goto fail;
    free(props);
    return o;
fail:
    free(props);
    cJSON_Delete(o);
    return NULL;
}
