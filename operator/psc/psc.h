/* psc.h — the PhysicalStatefulCluster as ballast's code sees it: a plain struct
 * parsed from the API object (cJSON), with defaults applied and validated.
 * The struct owns every string and array in it; free with psc_free. Parsing
 * never mutates the input object: ballast never edits a user's spec. */
#ifndef BALLAST_PSC_PSC_H
#define BALLAST_PSC_PSC_H

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "base/err.h"

#define PSC_GROUP       "ballast.dev"
#define PSC_VERSION     "v1alpha1"
#define PSC_API_VERSION "ballast.dev/v1alpha1"
#define PSC_KIND        "PhysicalStatefulCluster"
#define PSC_RESOURCE    "physicalstatefulclusters"

#define PSC_ANN_RESTART "ballast.dev/restart"
#define PSC_ANN_PAUSED  "ballast.dev/paused"

/* Labels ballast puts on every child it manages. */
#define PSC_LABEL_MANAGED_BY "app.kubernetes.io/managed-by" /* = "ballast" */
#define PSC_LABEL_INSTANCE   "app.kubernetes.io/instance"   /* = PSC name */
#define PSC_LABEL_NAME       "app.kubernetes.io/name"       /* = "ballast-member" etc */
#define PSC_LABEL_ORDINAL    "ballast.dev/ordinal"          /* = "3" */
#define PSC_LABEL_REVISION   "ballast.dev/revision"         /* = member template hash */
#define PSC_LABEL_RESTART    "ballast.dev/restart"          /* = restart annotation seen */
#define PSC_LABEL_ZONE       "topology.kubernetes.io/zone"

/* Defaults psc_parse applies; the CRD's schema defaults carry the same values. */
#define PSC_DEFAULT_LISTENER_NAME  "client"
#define PSC_DEFAULT_LISTENER_PORT  9092
#define PSC_DEFAULT_METRICS_PORT   9404
#define PSC_DEFAULT_METRICS_PATH   "/metrics"
#define PSC_DEFAULT_GATE_URP       "kafka_server_replicamanager_underreplicatedpartitions"
#define PSC_DEFAULT_GATE_OFFLINE   "kafka_controller_kafkacontroller_offlinepartitionscount"
#define PSC_DEFAULT_DRAINED_METRIC "kafka_server_replicamanager_partitioncount"
#define PSC_DEFAULT_ROLL_TIMEOUT   900
#define PSC_DEFAULT_GRACE_SECONDS  120 /* terminationGracePeriodSeconds: a controlled shutdown */

/* The listeners ballast adds for the engine itself (Kafka): replication between brokers
 * and the KRaft controller quorum. Their names and ports are not the user's to take. */
#define PSC_REPLICATION_LISTENER "replication"
#define PSC_REPLICATION_PORT     9091
#define PSC_CONTROLLER_LISTENER  "controller"
#define PSC_CONTROLLER_PORT      9093

/* Limits psc_parse enforces (the CRD's schema says the same). */
#define PSC_MAX_REPLICAS     1000
#define PSC_MAX_ROLL_TIMEOUT 604800 /* a week */
#define PSC_MAX_GRACE_SECONDS 86400 /* a day */
#define PSC_MAX_ZONES        64
#define PSC_MAX_LISTENERS    16
#define PSC_MAX_GATES        32
/* metadata.name: a DNS-1035 label short enough that every child name
 * ("data-<name>-<ordinal>", "<name>-headless") stays within 63 characters. */
#define PSC_MAX_NAME_LEN 52
/* Listener names become container port names: IANA service names, at most 15. */
#define PSC_MAX_LISTENER_NAME_LEN 15

struct psc_kv {
    char *key;
    char *value;
};

struct psc_gate {
    char *metric;  /* Prometheus metric family name; the gate sums all its series */
    double max;    /* holds when sum <= max on every member that reports it */
    bool optional; /* false (default): every member must report the metric, and one that
                      does not fails the gate; true: members that do not report it are
                      skipped, but at least one member must */
};

struct psc_listener {
    char *name; /* e.g. "client" */
    int port;
};

struct psc_spec {
    int replicas; /* >= 1 */
    char *image;
    char **zones; /* NULL/0 = every zone schedulable nodes carry */
    int nzones;
    struct psc_kv *config; /* sorted by key, unique keys */
    int nconfig;
    cJSON *resources;   /* owned deep copy of spec.resources, or NULL */
    char *storage_size; /* as written, e.g. "100Gi"; a bare integer as its digits */
    long long storage_bytes;
    char *storage_class; /* NULL = cluster default */
    bool delete_claim_on_scale_down;
    struct psc_listener *listeners; /* sorted by name; default {client: 9092} */
    int nlisteners;
    int metrics_port;       /* default 9404 */
    char *metrics_path;     /* default "/metrics" */
    struct psc_gate *gates; /* default: under-replicated and offline partitions, max 0 */
    int ngates;
    char *drained_metric;     /* default kafka_server_replicamanager_partitioncount */
    int roll_timeout_seconds; /* default 900 */
    int grace_seconds;        /* spec.terminationGracePeriodSeconds, default 120 */
    bool paused;
};

struct psc {
    char *name;             /* never NULL after psc_parse */
    char *ns;               /* "" when the object carries none (e.g. an admission request) */
    char *uid;              /* "" when absent */
    char *resource_version; /* "" when absent */
    long long generation;
    char *restart_token; /* value of the ballast.dev/restart annotation, or NULL */
    bool paused;         /* spec.paused || ballast.dev/paused == "true" */
    struct psc_spec spec;
    cJSON *status; /* owned deep copy of .status as last written (for transition times), or NULL */
};

/* psc_parse reads a PSC API object (borrowed) into a new struct psc with defaults
 * applied. On invalid input returns ERR_INVALID with a message naming the field,
 * e.g. "spec.replicas: must be at least 1, got 0" (ERR_NOMEM when out of memory),
 * and *out stays NULL. Unknown fields are ignored (a newer CRD may add some).
 * On success the caller frees *out with psc_free. */
int psc_parse(const cJSON *obj, struct psc **out, struct err *e);
void psc_free(struct psc *p);

/* psc_parse_quantity parses a Kubernetes quantity ("100Gi", "1.5G", "500m", "2")
 * into bytes/units rounded up; returns ERR_INVALID for anything else. */
int psc_parse_quantity(const char *s, long long *out, struct err *e);

/* psc_validate_update checks what the schema cannot between a stored PSC and its
 * update (both parsed): storage must not shrink, storageClassName must not change,
 * a zone that still has members (per the member->zone list given, may be NULL;
 * member_zones[i] is the zone of ordinal i, NULL when unknown) must not be removed.
 * Returns 0 when allowed, ERR_INVALID with a message otherwise. */
int psc_validate_update(const struct psc *old, const struct psc *upd,
                        const char *const *member_zones, int nmembers, struct err *e);

/* psc_config_owned: true when an engine config key is one ballast renders itself (the
 * member's identity, listeners, quorum, log dirs); spec.config may not set it. */
bool psc_config_owned(const char *key);

/* psc_config_get returns the value of an engine config key (borrowed from p), or NULL. */
const char *psc_config_get(const struct psc *p, const char *key);

#endif
