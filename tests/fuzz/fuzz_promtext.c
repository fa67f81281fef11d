/* fuzz_promtext.c — a member's metrics body, which whoever controls the member's image
 * writes: prom_parse on the whole text, and prom_reader fed the same bytes in pieces,
 * which must agree with it (accept/refuse, message, sums), as promtext.h promises.
 * Input: byte 0 picks the piece size, byte 1 the limits, the rest is the body. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health/promtext.h"

#define NNAMES 4

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_promtext: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t piece = (size_t)data[0] % 32 + 1;
    struct prom_limits small = {
        .max_body = 2048, .max_line = 128, .max_series = 16, .max_labels = 3};
    const struct prom_limits *lim = (data[1] & 1) ? &small : NULL;
    const char *text = (const char *)data + 2;
    size_t len = size - 2;

    struct prom_samples *s = NULL;
    struct err pe = {0};
    int prc = prom_parse(text, len, lim, &s, &pe);
    check((prc == 0) == (s != NULL), "*out set iff success");

    /* The families to sum: the first distinct names of the body, and one it may lack. */
    const char *names[NNAMES] = {"kafka_server_replicamanager_underreplicatedpartitions"};
    int nnames = 1;
    for (int i = 0; s != NULL && i < s->n && nnames < NNAMES; i++) {
        const struct prom_sample *x = &s->v[i];
        check(x->name != NULL && x->nlabels >= 0 && (x->nlabels == 0 || x->labels != NULL),
              "sample shape");
        for (int k = 0; k < x->nlabels; k++)
            check(x->labels[k].name != NULL && x->labels[k].value != NULL &&
                      prom_label_value(x, x->labels[k].name) != NULL,
                  "label shape");
        int seen = 0;
        for (int k = 0; k < nnames; k++)
            seen |= strcmp(names[k], x->name) == 0;
        if (!seen)
            names[nnames++] = x->name;
    }

    struct prom_reader *r = prom_reader_new(names, nnames, lim);
    check(r != NULL, "prom_reader_new");
    struct err re = {0};
    int rrc = 0;
    for (size_t off = 0; off < len && rrc == 0; off += piece)
        rrc = prom_reader_feed(r, text + off, len - off < piece ? len - off : piece, &re);
    if (rrc == 0)
        rrc = prom_reader_finish(r, &re);
    /* Over max_body the parser refuses up front and the reader once it is passed (maybe
     * after an earlier line's error): both refuse, in words of their own. */
    size_t max_body = lim ? lim->max_body : PROM_MAX_BODY_DEFAULT;
    bool same_words = len <= max_body;
    if (prc != rrc || (prc != 0 && same_words && strcmp(pe.msg, re.msg) != 0)) {
        fprintf(stderr, "prom_parse: %d %s\nprom_reader: %d %s\n", prc, pe.msg, rrc, re.msg);
        check(0, "prom_parse and prom_reader disagree");
    }
    if (prc == 0) {
        check(prom_reader_bytes(r) == len, "prom_reader_bytes");
        for (int k = 0; k < nnames; k++) {
            double a = 0, b = 0;
            bool fa = false, fb = false;
            prom_sum(s, names[k], &a, &fa);
            prom_reader_sum(r, k, &b, &fb);
            if (fa != fb || !((isnan(a) && isnan(b)) || a == b)) {
                fprintf(stderr, "%s: prom_sum %g (%d), prom_reader_sum %g (%d)\n", names[k], a, fa,
                        b, fb);
                check(0, "sums disagree");
            }
        }
    }
    prom_reader_free(r);
    prom_samples_free(s);
    return 0;
}
