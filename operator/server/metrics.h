/* metrics.h — ballast's own Prometheus metrics: a registry of counter and gauge
 * families, each with a few fixed label names, rendered in text exposition format
 * 0.0.4 for /metrics. Thread-safe: workers update it, the HTTP thread renders it. */
#ifndef BALLAST_SERVER_METRICS_H
#define BALLAST_SERVER_METRICS_H

#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

#define METRICS_MAX_LABELS         4
#define METRICS_DEFAULT_MAX_SERIES 10000
#define METRICS_MAX_VALUE_LEN      1024 /* bytes per label value */

enum metrics_type { METRICS_COUNTER, METRICS_GAUGE };

struct metrics;        /* the registry */
struct metrics_family; /* one metric name; owned by its registry */

/* METRICS_LABELS("ok") builds the label-value array the update calls take, in the
 * order of the family's label names. Families without labels take NULL. */
#define METRICS_LABELS(...) ((const char *const[]){__VA_ARGS__})

/* metrics_new returns an empty registry, or NULL when out of memory. max_series caps
 * the series of each family (0 = METRICS_DEFAULT_MAX_SERIES), so a label fed from
 * user data cannot exhaust memory. Caller frees with metrics_free. */
struct metrics *metrics_new(size_t max_series);
void metrics_free(struct metrics *m);

/* metrics_register adds a family; do it once at start-up. name and label names must
 * be valid Prometheus names; label_names has nlabels entries (NULL when 0). A family
 * without labels starts with one series at 0, so it is rendered before its first
 * update. *out is owned by m and valid until metrics_free. Registering a name twice
 * is ERR_CONFLICT. */
int metrics_register(struct metrics *m, enum metrics_type type, const char *name, const char *help,
                     int nlabels, const char *const *label_names, struct metrics_family **out,
                     struct err *e);

/* Updates. values has one entry per label name (NULL for a family without labels);
 * a new combination creates a series. Return 0; ERR_INVALID for a NULL or too long
 * value, a negative/NaN counter delta, or a gauge call on a counter (and back);
 * ERR_NOMEM when out of memory or when the family already holds max_series (the
 * update is dropped and a warning is logged once per family). */
int metrics_counter_add(struct metrics_family *f, const char *const *values, double delta);
int metrics_gauge_set(struct metrics_family *f, const char *const *values, double v);
int metrics_gauge_add(struct metrics_family *f, const char *const *values, double delta);

/* metrics_remove drops one series (e.g. the roll state of a deleted PSC); 0 even when
 * it did not exist. */
int metrics_remove(struct metrics_family *f, const char *const *values);

/* metrics_get reads a series' value (for tests and for the controller's own logic);
 * ERR_NOTFOUND when the series does not exist. */
int metrics_get(struct metrics_family *f, const char *const *values, double *out);

/* metrics_render appends every family, in registration order, series in creation
 * order, to out. ERR_NOMEM when out refuses the text (its cap). */
int metrics_render(struct metrics *m, struct buf *out, struct err *e);

/* The families the controller updates. Names, label names and help text live here
 * so the dashboard and the code agree. */
struct metrics_ballast {
    struct metrics_family *reconciles;       /* counter {result="ok|error"} */
    struct metrics_family *reconcile_errors; /* counter */
    struct metrics_family *workqueue_depth;  /* gauge */
    struct metrics_family *api_requests;     /* counter {verb, code} */
    struct metrics_family *watch_restarts;   /* counter {resource} */
    struct metrics_family *roll_state;       /* gauge {psc="ns/name", state} 0/1 */
    struct metrics_family *psc_reconciles;   /* counter {psc="ns/name"}: passes that read it */
    struct metrics_family *leader;           /* gauge 0/1 */
    struct metrics_family *cache_objects;    /* gauge {resource} */
    struct metrics_family *cache_bytes;      /* gauge {resource} */
};

/* metrics_register_ballast registers the families above into m. */
int metrics_register_ballast(struct metrics *m, struct metrics_ballast *out, struct err *e);

#endif
