/* internal.h — what the planner's files share and nobody else should use: the
 * per-pass context (members indexed with their observed objects and readings), the
 * small cJSON helpers and the output builders. Not part of the planner's API. */
#ifndef BALLAST_PLAN_INTERNAL_H
#define BALLAST_PLAN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "plan/plan.h"

/* One member: an ordinal wanted by spec.replicas, or an observed one above it. */
struct pmember {
    int ordinal;
    char *name;       /* "<psc>-<i>", owned */
    const char *zone; /* borrowed (PVC label, pod affinity or zone list); NULL = unknown */
    bool wanted;      /* ordinal < replicas */
    const cJSON *pod, *pvc, *svc;            /* observed, borrowed, NULL when absent */
    const struct plan_member_health *health; /* NULL when no reading */
    bool ready;                              /* pod exists, not terminating, Ready=True */
    bool serving;          /* ready, and its broker does not report a state other than RUNNING: what
                              the PSC's Ready condition counts */
    bool terminating;      /* pod has deletionTimestamp */
    bool dead;             /* pod phase Failed or Succeeded: it will never come back by itself */
    bool svc_address;      /* observed member Service has a clusterIP */
    bool svc_named;        /* svc_address, and with the DNS check on its name resolved */
    const char *dns_error; /* the lookup's failure when !svc_named; NULL = not looked up */
    bool needs_restart;    /* pod on another revision or restart token */
};

/* Condition results gathered by the deciding steps and turned into status. */
struct pcond {
    bool status;
    char reason[64];
    char message[512];
};

struct pctx {
    const struct plan_input *in;
    const struct psc *psc;
    struct plan *out;
    char revision[11];
    char restart_label[64];
    int voters;          /* KRaft controller quorum: ordinals 0..voters-1 (1 or 3), for life */
    char cluster_id[23]; /* the Kafka cluster id of this PSC (plan_cluster_id) */
    struct pmember *m;   /* sorted by ordinal: 0..replicas-1 then observed extras */
    int nm;
    const char **zones; /* zone order for new members, borrowed strings */
    int nzones;
    bool invalid;
    char invalid_msg[512];
    char zone_down_msg[512]; /* "" unless a requested zone with members has no nodes */
    bool can_act;            /* !invalid && !paused */
    bool recreate_only;      /* in->invalid: create what is missing (from the accepted spec),
                                change nothing else; plan_out_action drops the rest */
    struct pcond ready, resizing, rolling, degraded;
    bool roll_pending;         /* some wanted member needs a restart */
    time_t roll_blocked_since; /* 0, or when the roll started waiting (status.rollBlockedSince) */
    bool scaling_up;           /* new members are coming up: their absence is not Degraded */
    bool disruption;           /* a pod delete was decided this pass (restart or scale-down) */
};

/* ---- json.c ---- */
/* plan_jget walks object keys ("metadata", "labels", NULL-terminated); borrowed or NULL. */
const cJSON *plan_jget(const cJSON *o, ...) __attribute__((sentinel));
/* plan_jstr is plan_jget for a string value: borrowed string or NULL. */
const char *plan_jstr(const cJSON *o, ...) __attribute__((sentinel));
const char *plan_jlabel(const cJSON *o, const char *key);
/* Add or replace key in obj; 0 or ERR_NOMEM. plan_jset takes v (also on failure). */
int plan_jset(cJSON *obj, const char *key, cJSON *v);
int plan_jset_str(cJSON *obj, const char *key, const char *s);
cJSON *plan_jobj_add(cJSON *obj, const char *key); /* new empty object child, NULL on OOM */
cJSON *plan_jarr_add(cJSON *obj, const char *key);
/* plan_jcanon appends a canonical encoding (object keys sorted) of v to b; 0 or -1. */
struct buf;
int plan_jcanon(struct buf *b, const cJSON *v);
bool plan_jhas_owner(const cJSON *obj, const char *uid);
bool plan_jlabels_contain(const cJSON *obj, const cJSON *want_labels);
char *plan_strdup(const char *s);
char *plan_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int plan_parse_time(const char *s, time_t *out);
/* When pod's Ready condition last turned True; 0 when unknown. */
time_t plan_ready_since(const cJSON *pod);
void plan_fmt_time(time_t t, char out[32]);

/* ---- plan.c output builders (take ownership of obj) ---- */
int plan_out_action(struct pctx *c, enum plan_verb verb, enum plan_kind kind, const char *name,
                    cJSON *obj, const char *uid, const char *why);
int plan_out_event(struct pctx *c, enum plan_event_type type, const char *reason, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));
int plan_out_restart(struct pctx *c, const struct pmember *m, const char *reason);
void plan_out_requeue(struct pctx *c, int seconds); /* keeps the smallest non-zero */
/* plan_event_about tags the last event added (see struct plan_event). */
void plan_event_about(struct pctx *c, const char *condition, int action);
struct pmember *plan_member_at(struct pctx *c, int ordinal);
/* plan_pod_wait writes what member m's pod waits for before ballast creates it (its
 * Service's address, its Service's name to resolve), "" when it waits for nothing. */
void plan_pod_wait(const struct pctx *c, const struct pmember *m, char *out, size_t n);
/* plan_no_pod_why: "member <m> has no pod yet", and what it waits for when it does. */
void plan_no_pod_why(const struct pctx *c, const struct pmember *m, char *why, size_t n);

/* ---- placement.c ---- */
int plan_place_members(struct pctx *c, struct err *e);

/* ---- render.c: desired objects (owned, NULL on OOM) ---- */
/* the name of a revision's engine ConfigMap: "<psc>-config-<revision>" */
void plan_config_name(const struct pctx *c, const char *revision, char *out, size_t n);
cJSON *plan_render_configmap(struct pctx *c); /* the ConfigMap of c->revision (immutable) */
cJSON *plan_render_headless(struct pctx *c);
cJSON *plan_render_member_service(struct pctx *c, const struct pmember *m);
cJSON *plan_render_pdb(struct pctx *c);
cJSON *plan_render_pvc(struct pctx *c, const struct pmember *m);
cJSON *plan_render_pod(struct pctx *c, const struct pmember *m);
cJSON *plan_render_accepted(struct pctx *c); /* the accepted-spec record of in->spec */

/* ---- children.c: create/update of the objects around members, then missing pods ---- */
int plan_sync_children(struct pctx *c, struct err *e);
int plan_sync_pods(struct pctx *c, struct err *e);

/* ---- rolling.c ---- */
/* plan_gates_hold: true when m is scraped and every gate holds; else why names the
 * member, metric and value (why may be NULL). */
bool plan_gates_hold(const struct pctx *c, const struct pmember *m, char *why, size_t n);
int plan_decide_roll(struct pctx *c, struct err *e);
/* plan_cluster_unsafe: the first reason (into why) the cluster, leaving out member skip
 * (may be NULL), cannot take one more member down: a wanted member without a pod, a pod
 * not Ready, a gate that fails or cannot be read, a broker not RUNNING. False = safe. */
bool plan_cluster_unsafe(struct pctx *c, const struct pmember *skip, char *why, size_t n);

/* ---- resize.c ---- */
int plan_decide_resize(struct pctx *c, struct err *e);

/* ---- status.c ---- */
int plan_build_status(struct pctx *c, struct err *e);
const cJSON *plan_prev_condition(const struct psc *p, const char *type);
void plan_cond_set(struct pcond *k, bool status, const char *reason, const char *msg);

#endif
