/* promtext.h — a bounded parser for the Prometheus text exposition format 0.0.4,
 * the format a member's metrics endpoint (e.g. the Kafka JMX exporter) serves.
 * Pure: no I/O, no globals. Bad or truncated text gives an error naming the line. */
#ifndef BALLAST_HEALTH_PROMTEXT_H
#define BALLAST_HEALTH_PROMTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Defaults used when prom_parse gets no limits. A member's scrape is a few hundred
 * KiB at most; these only stop a broken or hostile endpoint from eating memory. */
#define PROM_MAX_BODY_DEFAULT   (4u << 20)  /* bytes of text */
#define PROM_MAX_LINE_DEFAULT   (64u << 10) /* bytes per line, '\n' excluded */
#define PROM_MAX_SERIES_DEFAULT 200000      /* samples in one body */
#define PROM_MAX_LABELS_DEFAULT 64          /* labels on one sample */

struct prom_limits {
    size_t max_body; /* 0 = default, likewise for every field */
    size_t max_line;
    int max_series;
    int max_labels;
};

struct prom_label {
    const char *name;  /* points into the owning prom_samples */
    const char *value; /* unescaped, valid UTF-8 */
};

struct prom_sample {
    const char *name; /* metric name, e.g. kafka_server_replicamanager_underreplicatedpartitions */
    const struct prom_label *labels; /* in the order written; NULL when nlabels == 0 */
    int nlabels;
    double value; /* may be NaN or +-Inf */
    bool has_timestamp;
    int64_t timestamp_ms;
};

/* Every string and array a prom_samples points to belongs to it: one owner, freed
 * together by prom_samples_free. */
struct prom_samples {
    struct prom_sample *v; /* in the order of the text */
    int n;
    /* private storage behind the pointers above */
    struct prom_label *label_store;
    char *str_store;
};

/* prom_parse parses text[0..len) (need not be NUL-terminated). lim may be NULL for
 * the defaults. Returns 0 and sets *out (caller frees with prom_samples_free), or
 * ERR_INVALID with a message such as "line 7: label value: invalid escape '\q'" —
 * including for a body that does not end with a newline, since a cut-off last line
 * could read as a smaller, wrong number — or ERR_NOMEM. *out stays NULL on error.
 * Values are read with strtod, so LC_NUMERIC must stay "C" (ballast never sets it). */
int prom_parse(const char *text, size_t len, const struct prom_limits *lim,
               struct prom_samples **out, struct err *e);
void prom_samples_free(struct prom_samples *s);

/* prom_sum adds the values of every sample whose name is exactly `name` (every series
 * of the family, whatever its labels; no _total/_created suffix guessing). *found tells
 * whether any sample matched; *sum is 0 when none did, and NaN if any value is NaN. */
void prom_sum(const struct prom_samples *s, const char *name, double *sum, bool *found);

/* prom_reader: the same parser fed chunk by chunk as a body arrives, keeping only the sums
 * of the metric families it was asked for. It holds one unfinished line (at most
 * max_line bytes) and nothing of the lines before it, so reading a member's metrics costs
 * the same memory whatever the size of its body. It accepts and refuses exactly what
 * prom_parse does, with the same messages, and its sums equal prom_sum's.
 *
 * prom_reader_new copies nothing: names[0..nnames) must outlive the reader. Returns
 * NULL when out of memory or given a bad count. Caller frees with prom_reader_free. */
struct prom_reader;
struct prom_reader *prom_reader_new(const char *const *names, int nnames,
                                    const struct prom_limits *lim);
/* prom_reader_feed parses what data[0..len) completes. 0, or the first error (ERR_INVALID
 * naming the line, ERR_NOMEM); after an error every call returns it again. */
int prom_reader_feed(struct prom_reader *r, const char *data, size_t len, struct err *e);
/* prom_reader_finish says the body ended: ERR_INVALID when it ended inside a line (cut
 * off), the first error if there was one, else 0. */
int prom_reader_finish(struct prom_reader *r, struct err *e);
/* The sum of names[i] over every series seen (prom_sum's rules); *found false when none. */
void prom_reader_sum(const struct prom_reader *r, int i, double *sum, bool *found);
size_t prom_reader_bytes(const struct prom_reader *r); /* bytes fed so far */
void prom_reader_free(struct prom_reader *r);

/* prom_label_value returns the value of label `name` on sample x (borrowed), or NULL. */
const char *prom_label_value(const struct prom_sample *x, const char *name);

#endif
