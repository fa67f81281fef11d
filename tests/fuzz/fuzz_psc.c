/* fuzz_psc.c — a PhysicalStatefulCluster object as the API server or a webhook caller
 * hands it over (JSON): psc_parse, then what ballast does with a parsed spec that reads
 * it again (psc_validate_update against itself and against a second parse, config look-ups).
 * psc_parse must not change its input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psc/psc.h"

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_psc: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *obj = cJSON_ParseWithLength((const char *)data, size);
    if (obj == NULL)
        return 0;
    char *before = cJSON_PrintUnformatted(obj);
    struct psc *p = NULL;
    struct err e = {0};
    int rc = psc_parse(obj, &p, &e);
    check((rc == 0) == (p != NULL), "*out set iff success");
    check(rc == 0 || e.msg[0] != '\0', "an error without a message");
    char *after = cJSON_PrintUnformatted(obj);
    check(before == NULL || after == NULL || strcmp(before, after) == 0,
          "psc_parse changed its input");
    if (p != NULL) {
        check(p->name != NULL && p->ns != NULL && p->uid != NULL && p->resource_version != NULL,
              "identity strings");
        check(p->spec.replicas >= 1 && p->spec.replicas <= PSC_MAX_REPLICAS, "replicas in range");
        for (int i = 0; i < p->spec.nconfig; i++)
            check(psc_config_get(p, p->spec.config[i].key) != NULL, "config key not found again");
        const char *zones[4] = {NULL};
        for (int i = 0; i < p->spec.nzones && i < 4; i++)
            zones[i] = p->spec.zones[i];
        struct psc *q = NULL;
        check(psc_parse(obj, &q, &e) == 0, "a second parse fails");
        struct err ue = {0};
        check(psc_validate_update(p, q, zones, 4, &ue) == 0,
              "an unchanged spec is refused as an update");
        psc_validate_update(q, p, NULL, 0, &ue);
        psc_free(q);
    }
    psc_free(p);
    cJSON_free(before);
    cJSON_free(after);
    cJSON_Delete(obj);
    return 0;
}
