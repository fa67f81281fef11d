/* quantity.c — Kubernetes resource quantities ("100Gi", "1.5G", "500m", "1e3") as
 * integers. Exact decimal arithmetic on a digit array, not doubles, so "1.1Gi" is the
 * same number of bytes the API server computes; fractions round up, like the server. */
#include "psc/psc.h"

#include <limits.h>
#include <stdbool.h>
#include <string.h>

/* A longer number is surely a mistake; the bound also bounds the digit array. */
#define QTY_MAX_DIGITS 64
/* 1024^6 (Ei) adds at most 19 digits. */
#define QTY_CAP (QTY_MAX_DIGITS + 24)
/* An exponent beyond this either overflows or rounds a non-zero value up to 1. */
#define QTY_MAX_EXP 400

struct qty_suffix {
    const char *name;
    int pow1024; /* value *= 1024^pow1024 */
    int pow10;   /* value *= 10^pow10 */
};

static const struct qty_suffix qty_suffixes[] = {
    {"Ki", 1, 0}, {"Mi", 2, 0}, {"Gi", 3, 0}, {"Ti", 4, 0}, {"Pi", 5, 0}, {"Ei", 6, 0},
    {"n", 0, -9}, {"u", 0, -6}, {"m", 0, -3}, {"k", 0, 3},  {"M", 0, 6},  {"G", 0, 9},
    {"T", 0, 12}, {"P", 0, 15}, {"E", 0, 18}, {"", 0, 0},
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* parse_suffix reads what follows the number: a unit or a decimal exponent. */
static int parse_suffix(const char *s, const char *all, int *pow1024, int *pow10, struct err *e)
{
    for (size_t i = 0; i < sizeof qty_suffixes / sizeof qty_suffixes[0]; i++) {
        if (strcmp(s, qty_suffixes[i].name) == 0) {
            *pow1024 = qty_suffixes[i].pow1024;
            *pow10 = qty_suffixes[i].pow10;
            return 0;
        }
    }
    /* "E" alone is exa (handled above); "e3", "E-2" are exponents. */
    if (s[0] == 'e' || s[0] == 'E') {
        const char *p = s + 1;
        int sign = 1;
        if (*p == '+' || *p == '-') {
            sign = *p == '-' ? -1 : 1;
            p++;
        }
        if (!is_digit(*p))
            goto bad;
        int exp = 0;
        for (; is_digit(*p); p++) {
            if (exp < QTY_MAX_EXP)
                exp = exp * 10 + (*p - '0');
        }
        if (*p != '\0')
            goto bad;
        if (exp > QTY_MAX_EXP)
            exp = QTY_MAX_EXP;
        *pow1024 = 0;
        *pow10 = sign * exp;
        return 0;
    }
bad:
    return err_set(e, ERR_INVALID,
                   "\"%s\" is not a quantity: unknown suffix \"%s\" (use Ki Mi Gi Ti Pi Ei, "
                   "k M G T P E, m, or an exponent such as e3)",
                   all, s);
}

int psc_parse_quantity(const char *s, long long *out, struct err *e)
{
    if (s == NULL || s[0] == '\0')
        return err_set(e, ERR_INVALID,
                       "empty quantity: want a number with an optional unit, "
                       "e.g. 100Gi");
    const char *p = s;
    bool negative = false;
    if (*p == '+' || *p == '-') {
        negative = *p == '-';
        p++;
    }

    /* digits[0..n) hold the number without its point; point = digits before the point. */
    unsigned char digits[QTY_CAP];
    int n = 0, point = 0, seen = 0;
    for (; is_digit(*p); p++, seen++) {
        if (n == 0 && *p == '0')
            continue; /* leading zeros carry nothing */
        if (n >= QTY_MAX_DIGITS)
            goto too_long;
        digits[n++] = (unsigned char)(*p - '0');
        point++;
    }
    if (*p == '.') {
        p++;
        for (; is_digit(*p); p++, seen++) {
            if (n >= QTY_MAX_DIGITS)
                goto too_long;
            digits[n++] = (unsigned char)(*p - '0');
        }
    }
    if (seen == 0)
        return err_set(e, ERR_INVALID,
                       "\"%s\" is not a quantity: want a number with an optional unit, e.g. "
                       "100Gi, 1.5G, 500m",
                       s);

    int pow1024 = 0, pow10 = 0;
    int rc = parse_suffix(p, s, &pow1024, &pow10, e);
    if (rc < 0)
        return rc;

    /* Multiply by 1024 per binary step; a carry out of the top grows the integer part. */
    for (int k = 0; k < pow1024; k++) {
        unsigned carry = 0;
        for (int i = n - 1; i >= 0; i--) {
            unsigned v = digits[i] * 1024u + carry;
            digits[i] = (unsigned char)(v % 10);
            carry = v / 10;
        }
        while (carry > 0) {
            memmove(digits + 1, digits, (size_t)n);
            digits[0] = (unsigned char)(carry % 10);
            carry /= 10;
            n++;
            point++;
        }
    }
    point += pow10;

    bool nonzero = false;
    for (int i = 0; i < n; i++)
        nonzero = nonzero || digits[i] != 0;
    if (!nonzero) {
        *out = 0;
        return 0;
    }
    if (negative)
        return err_set(e, ERR_INVALID, "\"%s\": must not be negative", s);

    /* Integer part: digits before the point (zeros past the end); the rest rounds up. */
    long long v = 0;
    bool frac = false;
    for (int i = 0; i < n || i < point; i++) {
        int d = i < n ? digits[i] : 0;
        if (i < point) {
            if (__builtin_mul_overflow(v, 10LL, &v) || __builtin_add_overflow(v, (long long)d, &v))
                goto overflow;
        } else if (d != 0) {
            frac = true;
            break;
        }
    }
    if (frac && __builtin_add_overflow(v, 1LL, &v))
        goto overflow;
    *out = v;
    return 0;

too_long:
    return err_set(e, ERR_INVALID, "\"%s\" is not a quantity: more than %d digits", s,
                   QTY_MAX_DIGITS);
overflow:
    return err_set(e, ERR_INVALID, "\"%s\" is too large: the limit is %lld (about 8Ei)", s,
                   LLONG_MAX);
}
