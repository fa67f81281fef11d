/* main.c — the ballast binary: flags and environment into options, the kubeconfig
 * into a kube_config, signals into a stop flag, then ctl_run. Wiring only; every
 * decision lives in the modules. Exit codes: 0 clean stop, 1 runtime failure,
 * 2 bad flags or configuration (one line on stderr says which). */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "ctl/ctl.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/signals.h"

#define MAX_NAMESPACES 64

static void usage(FILE *f)
{
    fputs("usage: ballast [flags]\n"
          "\n"
          "Runs the ballast operator: reconciles PhysicalStatefulClusters (ballast.dev/v1alpha1).\n"
          "\n"
          "  --kubeconfig PATH        kubeconfig file (env KUBECONFIG; default: in-cluster, then\n"
          "                           ~/.kube/config)\n"
          "  --context NAME           kubeconfig context (default: current-context)\n"
          "  --namespace NS           watch only NS; repeat or comma-separate for several\n"
          "                           (env BALLAST_NAMESPACES; default: all namespaces)\n"
          "  --http-addr HOST:PORT    /healthz, /readyz, /metrics (env BALLAST_HTTP_ADDR;\n"
          "                           default 0.0.0.0:8080; \"off\" disables)\n"
          "  --webhook-addr HOST:PORT admission webhook over TLS (env BALLAST_WEBHOOK_ADDR;\n"
          "                           default off; needs --webhook-cert and --webhook-key)\n"
          "  --webhook-cert FILE      PEM certificate for the webhook\n"
          "  --webhook-key FILE       PEM key for the webhook\n"
          "  --leader-elect           take part in leader election on a Lease\n"
          "                           (env BALLAST_LEADER_ELECT=true)\n"
          "  --lease-namespace NS     namespace of the Lease (env POD_NAMESPACE; default the\n"
          "                           kubeconfig namespace, else \"default\")\n"
          "  --lease-name NAME        name of the Lease (default ballast-leader)\n"
          "  --identity ID            this replica's identity (env POD_NAME; default host_pid)\n"
          "  --workers N              concurrent reconciles, 1..32 (default 2)\n"
          "  --dns-check              create a new member's pod only once its Service's name\n"
          "                           <member>.<ns>.svc resolves here; for an operator in the\n"
          "                           cluster (env BALLAST_DNS_CHECK=true; default off)\n"
          "  --log-level LEVEL        debug|info|warn|error (env BALLAST_LOG_LEVEL; default info)\n"
          "  --log-format FORMAT      text|json (env BALLAST_LOG_FORMAT; default text)\n"
          "  --version                print the version and exit\n"
          "  --help                   this text\n",
          f);
}

static int fail(const char *fmt, const char *arg)
{
    fprintf(stderr, "ballast: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    return 2;
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

/* Splits a comma-separated list into ns[] (pointers into the strdup'd copy in *store). */
static int add_namespaces(const char *list, char **store, const char **ns, int *n)
{
    char *copy = strdup(list);
    if (copy == NULL)
        return -1;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (*tok == '\0')
            continue;
        if (*n >= MAX_NAMESPACES) {
            free(copy);
            return -1;
        }
        ns[(*n)++] = tok;
    }
    store[0] = copy;
    return 0;
}

int main(int argc, char **argv)
{
    enum {
        OPT_KUBECONFIG = 256,
        OPT_CONTEXT,
        OPT_NAMESPACE,
        OPT_HTTP,
        OPT_WEBHOOK,
        OPT_WEBHOOK_CERT,
        OPT_WEBHOOK_KEY,
        OPT_LEADER,
        OPT_LEASE_NS,
        OPT_LEASE_NAME,
        OPT_IDENTITY,
        OPT_WORKERS,
        OPT_DNS_CHECK,
        OPT_LOG_LEVEL,
        OPT_LOG_FORMAT,
        OPT_VERSION,
        OPT_HELP
    };
    static const struct option long_opts[] = {
        {"kubeconfig", required_argument, 0, OPT_KUBECONFIG},
        {"context", required_argument, 0, OPT_CONTEXT},
        {"namespace", required_argument, 0, OPT_NAMESPACE},
        {"http-addr", required_argument, 0, OPT_HTTP},
        {"webhook-addr", required_argument, 0, OPT_WEBHOOK},
        {"webhook-cert", required_argument, 0, OPT_WEBHOOK_CERT},
        {"webhook-key", required_argument, 0, OPT_WEBHOOK_KEY},
        {"leader-elect", no_argument, 0, OPT_LEADER},
        {"lease-namespace", required_argument, 0, OPT_LEASE_NS},
        {"lease-name", required_argument, 0, OPT_LEASE_NAME},
        {"identity", required_argument, 0, OPT_IDENTITY},
        {"workers", required_argument, 0, OPT_WORKERS},
        {"dns-check", no_argument, 0, OPT_DNS_CHECK},
        {"log-level", required_argument, 0, OPT_LOG_LEVEL},
        {"log-format", required_argument, 0, OPT_LOG_FORMAT},
        {"version", no_argument, 0, OPT_VERSION},
        {"help", no_argument, 0, OPT_HELP},
        {0, 0, 0, 0},
    };

    const char *kubeconfig = NULL, *context = NULL;
    const char *level_s = env_or("BALLAST_LOG_LEVEL", "info");
    const char *format_s = env_or("BALLAST_LOG_FORMAT", "text");
    const char *ns_list[MAX_NAMESPACES];
    char *ns_store[MAX_NAMESPACES + 1] = {0};
    int nns = 0, nstore = 0;
    struct ctl_opts o = {
        .http_addr = env_or("BALLAST_HTTP_ADDR", "0.0.0.0:8080"),
        .webhook_addr = env_or("BALLAST_WEBHOOK_ADDR", NULL),
        .webhook_cert = env_or("BALLAST_WEBHOOK_CERT", NULL),
        .webhook_key = env_or("BALLAST_WEBHOOK_KEY", NULL),
        .leader_elect = strcmp(env_or("BALLAST_LEADER_ELECT", "false"), "true") == 0,
        .lease_namespace = env_or("POD_NAMESPACE", NULL),
        .lease_name = "ballast-leader",
        .identity = env_or("POD_NAME", NULL),
        .workers = 2,
        .scrape_timeout_ms = 5000,
    };
    int rc = 0;
    const char *env_dns = env_or("BALLAST_DNS_CHECK", "false");
    if (strcmp(env_dns, "true") != 0 && strcmp(env_dns, "false") != 0)
        return fail("BALLAST_DNS_CHECK: want true or false, got \"%s\"", env_dns);
    o.dns_check = strcmp(env_dns, "true") == 0;
    const char *env_ns = env_or("BALLAST_NAMESPACES", NULL);
    if (env_ns && add_namespaces(env_ns, &ns_store[nstore++], ns_list, &nns) < 0)
        return fail("BALLAST_NAMESPACES: more than 64 namespaces", "");

    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_KUBECONFIG:
            kubeconfig = optarg;
            break;
        case OPT_CONTEXT:
            context = optarg;
            break;
        case OPT_NAMESPACE:
            if (nstore >= MAX_NAMESPACES ||
                add_namespaces(optarg, &ns_store[nstore++], ns_list, &nns) < 0) {
                rc = fail("--namespace: more than %s namespaces", "64");
                goto out;
            }
            break;
        case OPT_HTTP:
            o.http_addr = optarg;
            break;
        case OPT_WEBHOOK:
            o.webhook_addr = optarg;
            break;
        case OPT_WEBHOOK_CERT:
            o.webhook_cert = optarg;
            break;
        case OPT_WEBHOOK_KEY:
            o.webhook_key = optarg;
            break;
        case OPT_LEADER:
            o.leader_elect = true;
            break;
        case OPT_LEASE_NS:
            o.lease_namespace = optarg;
            break;
        case OPT_LEASE_NAME:
            o.lease_name = optarg;
            break;
        case OPT_IDENTITY:
            o.identity = optarg;
            break;
        case OPT_WORKERS: {
            char *end = NULL;
            long w = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || w < 1 || w > 32) {
                rc = fail("--workers: want a number from 1 to 32, got \"%s\"", optarg);
                goto out;
            }
            o.workers = (int)w;
            break;
        }
        case OPT_DNS_CHECK:
            o.dns_check = true;
            break;
        case OPT_LOG_LEVEL:
            level_s = optarg;
            break;
        case OPT_LOG_FORMAT:
            format_s = optarg;
            break;
        case OPT_VERSION:
            printf("ballast %s\n", BALLAST_VERSION);
            goto out;
        case OPT_HELP:
            usage(stdout);
            goto out;
        case ':':
            rc = fail("%s needs a value (see --help)", argv[optind - 1]);
            goto out;
        default:
            rc = fail("unknown flag %s (see --help)", argv[optind - 1]);
            goto out;
        }
    }
    if (optind < argc) {
        rc = fail("unexpected argument \"%s\" (see --help)", argv[optind]);
        goto out;
    }

    enum log_level level;
    enum log_format format;
    if (log_parse_level(level_s, &level) < 0) {
        rc = fail("--log-level: want debug, info, warn or error, got \"%s\"", level_s);
        goto out;
    }
    if (log_parse_format(format_s, &format) < 0) {
        rc = fail("--log-format: want text or json, got \"%s\"", format_s);
        goto out;
    }
    log_setup(level, format);
    if (o.http_addr && strcmp(o.http_addr, "off") == 0)
        o.http_addr = NULL;
    if (o.webhook_addr && (!o.webhook_cert || !o.webhook_key)) {
        rc = fail("--webhook-addr %s needs --webhook-cert and --webhook-key", o.webhook_addr);
        goto out;
    }
    o.namespaces = nns ? ns_list : NULL;
    o.nnamespaces = nns;

    /* Two malloc arenas, not glibc's eight per core: every informer, worker and server thread
     * would otherwise fill and keep an arena of its own, and after a restart's relists their
     * freed pages stay resident (hack/bench.sh, 100 x 6: restart peak and RSS 20 s later 30 MiB
     * with the default, 25 MiB with two, medians of 3; caught up in 0.9 and 0.8 s). ballast's
     * threads wait on the network, not on malloc. MALLOC_ARENA_MAX, when set, still wins. */
    if (getenv("MALLOC_ARENA_MAX") == NULL)
        mallopt(M_ARENA_MAX, 2);

    struct err e = {0};
    if (kube_global_init(&e) != 0) {
        fprintf(stderr, "ballast: %s\n", e.msg);
        rc = 1;
        goto out;
    }
    struct kube_config *cfg = NULL;
    if (kube_config_load(kubeconfig, context, &cfg, &e) != 0) {
        fprintf(stderr, "ballast: %s\n", e.msg);
        rc = 2;
        kube_global_cleanup();
        goto out;
    }
    char identity[256];
    if (o.identity == NULL) {
        char host[200] = "ballast";
        gethostname(host, sizeof host - 1);
        snprintf(identity, sizeof identity, "%s_%d", host, (int)getpid());
        o.identity = identity;
    }
    if (o.lease_namespace == NULL)
        o.lease_namespace = cfg->ns ? cfg->ns : "default";

    if (kube_sig_setup(&e) != 0) {
        fprintf(stderr, "ballast: %s\n", e.msg);
        rc = 1;
        kube_config_free(cfg);
        kube_global_cleanup();
        goto out;
    }

    log_info("starting", "version", BALLAST_VERSION, "config", cfg->source, "identity", o.identity,
             "namespaces", nns ? env_or("BALLAST_NAMESPACES", "(flags)") : "(all)");
    if (ctl_run(cfg, &o, kube_sig_stop_flag(), &e) != 0) {
        log_error("stopped on error", "error", e.msg);
        rc = 1;
    } else {
        log_info("stopped");
    }
    kube_config_free(cfg);
    kube_global_cleanup();
out:
    for (int i = 0; i < nstore; i++)
        free(ns_store[i]);
    return rc;
}
