/* plan.h — the reconcile decision as a pure function: given one parsed PSC, the
 * children observed in the cache, the nodes' zones, the members' metric readings and
 * `now`, return what to create/update/delete this pass, the one member to restart,
 * the new status and the Events to emit. No I/O, no clock, no globals.
 *
 * Layout ballast renders (the contract with the executor and the engine image):
 *   ConfigMap  <psc>-config-<rev> immutable, one per member-template revision, deleted
 *                             once no pod mounts it. data: "server.properties" = spec.config
 *                             (sorted) + what every member shares (KRaft quorum voters on
 *                             the members' DNS names, listener map, log.dirs) and
 *                             "jmx-exporter.yaml" = the exporter rules the gates read.
 *   Service    <psc>-headless clusterIP None, publishNotReadyAddresses, all members:
 *                             <psc>-<i>.<psc>-headless.<ns>.svc is member i's name.
 *   Service    <psc>-<i>      one per member, selects label ballast.dev/member=<psc>-<i>.
 *   PVC        data-<psc>-<i> labelled topology.kubernetes.io/zone=<zone> (the member's
 *                             zone for life) and ballast.dev/kraft-voters=<n> (the quorum
 *                             size chosen when the cluster was created, for life).
 *   Pod        <psc>-<i>      hostname <psc>-<i>, subdomain <psc>-headless, required node
 *                             affinity on its zone; init container "format" writes
 *                             /var/run/ballast/server.properties (the ConfigMap's + env
 *                             BALLAST_MEMBER_PROPERTIES: node.id, process.roles, broker.rack,
 *                             listeners, advertised.listeners) and formats the log dir on
 *                             the PVC with BALLAST_CLUSTER_ID; container "engine" runs
 *                             /opt/kafka/bin/kafka-server-start.sh on it, the JMX exporter
 *                             agent via KAFKA_OPTS; Ready = brokerstate 3 (RUNNING).
 *   PDB        <psc>          minAvailable = members that exist or should exist - 1.
 */
#ifndef BALLAST_PLAN_PLAN_H
#define BALLAST_PLAN_PLAN_H

#include <stdbool.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "base/err.h"
#include "psc/psc.h"

#define PLAN_LABEL_MEMBER          "ballast.dev/member" /* = "<psc>-<i>", the member Service's selector */
#define PLAN_LABEL_VOTERS          "ballast.dev/kraft-voters" /* on PVCs: the quorum size, "1" or "3" */
#define PLAN_MAX_REPLICAS          1000 /* above this the spec is refused (InvalidSpec) */
#define PLAN_BROKER_STATE_RECOVERY 2    /* kafka_server_kafkaserver_brokerstate: recovering logs */
#define PLAN_BROKER_STATE_RUNNING  3    /* kafka_server_kafkaserver_brokerstate: serving */
/* A member must have been Ready this long before the next member is restarted. Pods can
 * report Ready before the engine behind them is (and, on a pod IP reused at once, the
 * old process may still answer the scrape while it shuts down); as StatefulSet's
 * minReadySeconds, a short settle closes that window. */
#define PLAN_SETTLE_SECONDS 10
#define PLAN_RESYNC_SECONDS 60 /* requeue hint when nothing waits: re-read the gates */

/* ---- inputs (all borrowed for the duration of plan_compute) ---- */

struct plan_node {
    const char *name;
    const char *zone; /* topology.kubernetes.io/zone label, NULL when unlabelled */
    bool schedulable; /* !spec.unschedulable */
};

/* One metric value read from a member. present=false: the metric was not in the scrape. */
struct plan_reading {
    bool present;
    double value;
};

/* What the health module read from one member. A member without an entry is treated
 * as not scraped, and an unscraped member fails every gate. A gate metric a scraped
 * member does not report (present=false) fails the gate on that member, unless the gate
 * is optional: then it is not that member's to report (KRaft controller metrics on
 * broker-only nodes) as long as some member reports it; when no member does, the gate
 * fails: a misspelt metric must never pass silently. */
struct plan_member_health {
    int ordinal;
    bool scraped;                     /* false: unreachable, timed out or unparsable */
    const char *error;                /* why not scraped, for people; may be NULL */
    const struct plan_reading *gates; /* parallel to psc->spec.gates (ngates entries), may be
                                         NULL when !scraped */
    struct plan_reading drained;      /* psc->spec.drained_metric */
    struct plan_reading broker_state; /* kafka_server_kafkaserver_brokerstate */
};

/* What the operator's resolver said of a member Service's DNS name, <psc>-<i>.<ns>.svc
 * (the name a new member's peers and clients reach it by), looked up from where ballast
 * runs for members that have a Service with an address but no pod yet. */
struct plan_member_dns {
    int ordinal;
    bool resolved;
    const char *error; /* why not, for people (e.g. "Name or service not known"); may be NULL */
};

/* Children are the cached API objects that carry this PSC's owner reference,
 * as cJSON objects (borrowed; arrays of pointers, any order). */
struct plan_input {
    const struct psc *psc;
    const cJSON *const *pods;
    int npods;
    const cJSON *const *pvcs;
    int npvcs;
    const cJSON *const *services;
    int nservices;
    const cJSON *const *configmaps;
    int nconfigmaps;
    const cJSON *const *pdbs;
    int npdbs;
    const struct plan_node *nodes; /* every node (metadata only is enough) */
    int nnodes;
    const struct plan_member_health *health;
    int nhealth;
    /* The DNS check (ballast --dns-check): when on, a member's pod is created only once
     * an entry here says its Service's name resolved; a member without an entry has not
     * been looked up and waits. Off: the Service's address is enough. */
    bool dns_check;
    const struct plan_member_dns *dns;
    int ndns;
    time_t now;
    /* The PSC's .spec as the API server holds it (borrowed, may be NULL). When the plan
     * acts on a valid spec it records it in ConfigMap <psc>-accepted-spec (see below). */
    const cJSON *spec;
    /* NULL, or why the PSC as written is invalid: psc is then the last accepted spec
     * (read back from that ConfigMap, with the PSC's own metadata and status), and the
     * plan only creates what is missing — members, their volumes and Services — from
     * it; it updates, removes and restarts nothing, and status reports InvalidSpec with
     * this reason. */
    const char *invalid;
};

/* The last spec ballast accepted: ConfigMap "<psc>" PLAN_ACCEPTED_SUFFIX, owned by the
 * PSC, data PLAN_ACCEPTED_KEY = the spec as JSON, "generation" = the generation it was
 * accepted at. Written whenever a valid spec is acted on (not while paused); read
 * back when a later spec is invalid, so a missing member is recreated even then, by
 * any operator replica, after any restart. */
#define PLAN_ACCEPTED_SUFFIX "-accepted-spec"
#define PLAN_ACCEPTED_KEY    "spec.json"

/* ---- output (struct plan owns everything in it; free with plan_free) ---- */

/* PLAN_EVICT: a pod removed through the Eviction API (policy/v1), which the
 * PodDisruptionBudget referees; used for every voluntary removal of a member. */
enum plan_verb { PLAN_CREATE = 0, PLAN_UPDATE, PLAN_DELETE, PLAN_EVICT };

enum plan_kind { PLAN_CONFIGMAP = 0, PLAN_SERVICE, PLAN_PDB, PLAN_PVC, PLAN_POD };

struct plan_action {
    enum plan_verb verb;
    enum plan_kind kind;
    const char *api_version; /* static: "v1" or "policy/v1" */
    const char *resource;    /* static: "configmaps", "services", "poddisruptionbudgets", ... */
    char *ns;
    char *name;
    /* create: the full desired object. update: the observed object with ballast's fields
     * overwritten, carrying its metadata.resourceVersion, so it can be PUT as is (a stale
     * one gets 409). delete: NULL. Owned. */
    cJSON *object;
    char *uid; /* delete/evict: the observed uid, to send as a precondition; else NULL */
    int needs; /* 0, or 1 + the index of an earlier action that must take effect first
                  (a pod needs the volume created in the same pass) */
    char *why; /* one line for logs, e.g. "member orders-3 is new" */
};

enum plan_event_type { PLAN_EVENT_NORMAL = 0, PLAN_EVENT_WARNING };

struct plan_event {
    enum plan_event_type type;
    char *reason;  /* CamelCase, e.g. "RollBlocked" */
    char *message; /* one sentence */
    /* What the event tells of, so the executor drops news that did not come true: */
    const char *condition; /* static: the condition ("Rolling", "Degraded", ...) whose new
                              reason it announces, or NULL */
    int action;            /* 1 + the index of the action it announces, -1 the restart, 0 none */
};

struct plan_restart {
    bool set;
    int ordinal;
    char *ns;
    char *pod;    /* pod name to evict */
    char *uid;    /* observed pod uid: evict with this precondition */
    char *reason; /* one sentence, e.g. "revision 0a1b2c3d4e -> 5f6a7b8c9d" */
};

struct plan {
    struct plan_action *actions; /* in execution order; independent but for `needs` */
    int nactions;
    struct plan_restart restart; /* at most one member pod to evict, after the actions */
    cJSON *status;               /* the full new .status (owned) */
    bool status_changed;         /* false: do not write status (only lastProbeTime would move) */
    int requeue_after;           /* seconds, always > 0: 5-30 while something waits (a blocked roll,
                                    a drain, a Service address or name), PLAN_RESYNC_SECONDS
                                    otherwise,
                                    because gate metrics change without any watch event */
    struct plan_event *events;
    int nevents;
    char update_revision[16];
    char invalid[512]; /* "" when the spec was valid, else why not (Degraded InvalidSpec) */
};

/* plan_compute decides one reconcile pass. Returns 0 and sets *out (caller frees with
 * plan_free), or a negative ERR_* with e filled (ERR_INVALID for unusable input such as
 * a NULL psc, ERR_NOMEM). An invalid spec is not an error: it gives a plan with
 * Degraded=True reason InvalidSpec and no actions. */
int plan_compute(const struct plan_input *in, struct plan **out, struct err *e);
void plan_free(struct plan *p);

/* ---- pieces exposed for tests and for the executor/CLI ---- */

/* plan_revision writes the member template's hash (10 lowercase hex chars + NUL) into
 * out[11]: image, config, resources, listeners, metrics port/path, storage class —
 * not replicas, gates or storage size. Stable across processes and key order. */
void plan_revision(const struct psc *p, char out[11]);

/* plan_cluster_id writes the Kafka cluster id of a PSC into out[23]: 16 bytes derived from
 * its namespace and name, base64url without padding (Kafka's Uuid form). The same PSC
 * gets the same id from any operator, after any restart, and when it is deleted and
 * created again over its kept volumes. */
void plan_cluster_id(const struct psc *p, char out[23]);

/* plan_restart_label maps the restart annotation to a label value: the token itself
 * when it is a valid label value, else "h" + its hash; "" when token is NULL/empty.
 * out must hold 64 bytes. */
void plan_restart_label(const char *token, char out[64]);

/* plan_zone_order fills the zones new members are spread over: spec.zones in the
 * user's order, or the sorted unique zones of schedulable nodes. *zones is a malloc'd
 * array of borrowed strings (caller frees the array only).
 * A requested zone with no node is either a mistake or an outage. Where no member lives
 * (member_zones[0..nmembers), NULL entries unknown) it is a mistake: ERR_INVALID with an
 * actionable message. Where members live it is an outage: the zone is left out of the
 * order (new members go elsewhere), `down` (downlen bytes, may be NULL) gets a sentence
 * naming the zone, and the call succeeds — the members elsewhere still need care.
 * Returns 0, ERR_INVALID or ERR_NOMEM. */
int plan_zone_order(const struct psc *p, const struct plan_node *nodes, int nnodes,
                    const char *const *member_zones, int nmembers, const char ***zones, int *nzones,
                    char *down, size_t downlen, struct err *e);

/* plan_place_new chooses the zone for each member whose zone is NULL in
 * member_zones[0..n): the zone with the fewest members so far (ties: zone order).
 * Members whose zone is already set keep it and count toward their zone. Strings are
 * borrowed from zones[]. Returns 0, or ERR_INVALID when a zone is needed and nzones==0. */
int plan_place_new(const char **member_zones, int n, const char *const *zones, int nzones,
                   struct err *e);

const char *plan_kind_name(enum plan_kind k); /* "ConfigMap", "Service", ... */
const char *plan_verb_name(enum plan_verb v); /* "create", "update", "delete" */

#endif
