/* fuzz_quantity.c — Kubernetes quantities as a spec writes them ("100Gi", "1.5e3", "500m"):
 * psc_parse_quantity on any bytes. A quantity it accepts is never negative, and a plain
 * one ("<up to 9 digits><unit>") is the integer arithmetic says. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psc/psc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    long long v = -1;
    struct err e = {0};
    int rc = psc_parse_quantity(s, &v, &e);
    if (rc == 0 && v < 0) {
        fprintf(stderr, "fuzz_quantity: \"%s\" parsed as %lld\n", s, v);
        abort();
    }
    if (rc != 0 && e.msg[0] == '\0')
        abort();
    /* The oracle for the plain case. */
    static const struct {
        const char *unit;
        long long mult;
    } units[] = {{"", 1},     {"Ki", 1LL << 10}, {"Mi", 1LL << 20}, {"Gi", 1LL << 30},
                 {"k", 1000}, {"M", 1000000},    {"G", 1000000000}};
    size_t nd = strspn(s, "0123456789");
    if (nd >= 1 && nd <= 9) {
        long long n = strtoll(s, NULL, 10);
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (strcmp(s + nd, units[i].unit) == 0 && (rc != 0 || v != n * units[i].mult)) {
                fprintf(stderr, "fuzz_quantity: \"%s\": rc %d, %lld, want %lld\n", s, rc, v,
                        n * units[i].mult);
                abort();
            }
    }
    free(s);
    return 0;
}
