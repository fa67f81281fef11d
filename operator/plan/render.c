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
#define CONFIG_DIR "/etc/ballast"
#define DATA_DIR   "/var/lib/ballast/data"

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

static char *member_properties(struct pctx *c, const struct pmember *m)
{
    struct buf b = {0};
    int rc =
        buf_printf(&b, "# rendered by ballast for member %s; edit spec.config instead\n", m->name);
    for (int i = 0; i < c->psc->spec.nconfig && rc == 0; i++) {
        const struct psc_kv *kv = &c->psc->spec.config[i];
        /* ballast owns the member's identity: a user value would give two brokers one id */
        if (strcmp(kv->key, "node.id") == 0 || strcmp(kv->key, "broker.rack") == 0)
            continue;
        rc |= prop_escape(&b, kv->key, true);
        rc |= buf_puts(&b, "=");
        rc |= prop_escape(&b, kv->value, false);
        rc |= buf_puts(&b, "\n");
    }
    rc |= buf_printf(&b, "node.id=%d\nbroker.rack=", m->ordinal);
    rc |= prop_escape(&b, m->zone ? m->zone : "", false);
    rc |= buf_puts(&b, "\n");
    if (rc != 0) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

cJSON *plan_render_configmap(struct pctx *c)
{
    char name[300];
    snprintf(name, sizeof name, "%s-config", c->psc->name);
    cJSON *o = new_object(c, "v1", "ConfigMap", name, labels_common(c));
    cJSON *data = o ? plan_jobj_add(o, "data") : NULL;
    if (data == NULL)
        goto fail;
    for (int i = 0; i < c->nm; i++) {
        const struct pmember *m = &c->m[i];
        /* a leaving member keeps its file until its pod is gone */
        if (m->zone == NULL || (!m->wanted && m->pod == NULL))
            continue;
        char key[64];
        snprintf(key, sizeof key, "member-%d.properties", m->ordinal);
        char *props = member_properties(c, m);
        int rc = props ? plan_jset_str(data, key, props) : ERR_NOMEM;
        free(props);
        if (rc != 0)
            goto fail;
    }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
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

cJSON *plan_render_pdb(struct pctx *c)
{
    cJSON *o = new_object(c, "policy/v1", "PodDisruptionBudget", c->psc->name, labels_common(c));
    cJSON *spec = o ? plan_jobj_add(o, "spec") : NULL;
    cJSON *sel = spec ? plan_jobj_add(spec, "selector") : NULL;
    if (sel == NULL || plan_jset(spec, "maxUnavailable", cJSON_CreateNumber(1)) != 0 ||
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
    if (l != NULL && (labels_member(l, m) != 0 || plan_jset_str(l, PSC_LABEL_ZONE, m->zone) != 0)) {
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

static int pod_volumes(struct pctx *c, const struct pmember *m, cJSON *spec, cJSON *ctr)
{
    char claim[300], cm[300];
    snprintf(claim, sizeof claim, "data-%s", m->name);
    snprintf(cm, sizeof cm, "%s-config", c->psc->name);
    cJSON *vols = plan_jarr_add(spec, "volumes");
    cJSON *mounts = plan_jarr_add(ctr, "volumeMounts");
    if (vols == NULL || mounts == NULL)
        return ERR_NOMEM;
    cJSON *v1 = cJSON_CreateObject(), *v2 = cJSON_CreateObject();
    cJSON *m1 = cJSON_CreateObject(), *m2 = cJSON_CreateObject();
    bool ok = v1 && v2 && m1 && m2;
    if (ok) {
        cJSON_AddItemToArray(vols, v1);
        cJSON_AddItemToArray(vols, v2);
        cJSON_AddItemToArray(mounts, m1);
        cJSON_AddItemToArray(mounts, m2);
    } else {
        cJSON_Delete(v1);
        cJSON_Delete(v2);
        cJSON_Delete(m1);
        cJSON_Delete(m2);
        return ERR_NOMEM;
    }
    cJSON *pvc = NULL, *cmv = NULL;
    if (plan_jset_str(v1, "name", "data") != 0 ||
        (pvc = plan_jobj_add(v1, "persistentVolumeClaim")) == NULL ||
        plan_jset_str(pvc, "claimName", claim) != 0 || plan_jset_str(v2, "name", "config") != 0 ||
        (cmv = plan_jobj_add(v2, "configMap")) == NULL || plan_jset_str(cmv, "name", cm) != 0 ||
        plan_jset_str(m1, "name", "data") != 0 || plan_jset_str(m1, "mountPath", DATA_DIR) != 0 ||
        plan_jset_str(m2, "name", "config") != 0 ||
        plan_jset_str(m2, "mountPath", CONFIG_DIR) != 0 ||
        plan_jset(m2, "readOnly", cJSON_CreateTrue()) != 0)
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
    char headless[300], ord[16], file[96];
    snprintf(headless, sizeof headless, "%s-headless", c->psc->name);
    snprintf(ord, sizeof ord, "%d", m->ordinal);
    snprintf(file, sizeof file, CONFIG_DIR "/member-%d.properties", m->ordinal);
    cJSON *o = new_object(c, "v1", "Pod", m->name, l);
    cJSON *spec = o ? plan_jobj_add(o, "spec") : NULL;
    cJSON *ctrs = spec ? plan_jarr_add(spec, "containers") : NULL;
    cJSON *ctr = cJSON_CreateObject();
    if (ctrs == NULL || ctr == NULL || !cJSON_AddItemToArray(ctrs, ctr)) {
        cJSON_Delete(ctr);
        goto fail;
    }
    if (plan_jset_str(spec, "hostname", m->name) != 0 ||
        plan_jset_str(spec, "subdomain", headless) != 0 ||
        plan_jset(spec, "terminationGracePeriodSeconds", cJSON_CreateNumber(120)) != 0 ||
        pod_affinity(spec, m->zone) != 0)
        goto fail;
    if (plan_jset_str(ctr, "name", "engine") != 0 || plan_jset_str(ctr, "image", s->image) != 0 ||
        add_ports(c, ctr, false) != 0)
        goto fail;
    if (s->resources != NULL &&
        plan_jset(ctr, "resources", cJSON_Duplicate(s->resources, true)) != 0)
        goto fail;
    cJSON *env = plan_jarr_add(ctr, "env");
    if (env == NULL || add_env(env, "BALLAST_NODE_ID", ord) != 0 ||
        add_env(env, "BALLAST_RACK", m->zone) != 0 ||
        add_env(env, "BALLAST_CONFIG_FILE", file) != 0 ||
        add_env(env, "BALLAST_DATA_DIR", DATA_DIR) != 0)
        goto fail;
    /* Ready = the first listener accepts connections; the gates judge the rest. */
    if (s->nlisteners > 0) {
        cJSON *rp = plan_jobj_add(ctr, "readinessProbe");
        cJSON *tcp = rp ? plan_jobj_add(rp, "tcpSocket") : NULL;
        if (tcp == NULL || plan_jset(tcp, "port", cJSON_CreateNumber(s->listeners[0].port)) != 0 ||
            plan_jset(rp, "periodSeconds", cJSON_CreateNumber(5)) != 0 ||
            plan_jset(rp, "failureThreshold", cJSON_CreateNumber(3)) != 0)
            goto fail;
    }
    if (pod_volumes(c, m, spec, ctr) != 0)
        goto fail;
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}
