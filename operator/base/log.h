/* log.h — structured logs for the people who run ballast: one line per action,
 * logfmt (default) or JSON, to stderr. Values are strings; callers format numbers.
 * Never log a token, a key or a certificate. Thread-safe. */
#ifndef BALLAST_BASE_LOG_H
#define BALLAST_BASE_LOG_H

enum log_level { LV_DEBUG = 0, LV_INFO, LV_WARN, LV_ERROR };
enum log_format { LOG_FMT_TEXT = 0, LOG_FMT_JSON };

void log_setup(enum log_level min, enum log_format fmt);
/* Parse "debug|info|warn|error" and "text|json"; return 0, or -1 when unknown. */
int log_parse_level(const char *s, enum log_level *out);
int log_parse_format(const char *s, enum log_format *out);
int log_enabled(enum log_level lvl);

/* log_kv(level, msg, key1, val1, key2, val2, ..., NULL). A NULL value prints as "". */
void log_kv(enum log_level lvl, const char *msg, ...) __attribute__((sentinel));

#define log_debug(...) log_kv(LV_DEBUG, __VA_ARGS__, (const char *)0)
#define log_info(...)  log_kv(LV_INFO, __VA_ARGS__, (const char *)0)
#define log_warn(...)  log_kv(LV_WARN, __VA_ARGS__, (const char *)0)
#define log_error(...) log_kv(LV_ERROR, __VA_ARGS__, (const char *)0)

#endif
