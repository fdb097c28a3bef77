/* Configuration from the environment: HCS_VRAM_QUOTA, HCS_VRAM_QUOTA_<i>, HCS_SHM_PATH.
 *
 * Quantities follow Kubernetes' resource.Quantity grammar for byte counts: a decimal number
 * with an optional fraction, then a binary suffix (Ki Mi Gi Ti Pi Ei), a decimal suffix
 * (k M G T P E) or a decimal exponent (e3, E6). A fractional byte count is rounded up, as
 * Kubernetes does. Negative values, milli-units, whitespace and anything else are rejected.
 * Any malformed quota variable makes the whole configuration invalid: the library then refuses
 * every tracked allocation (fail closed) and says why on stderr.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hcs.h"

static const char QUOTA[] = "HCS_VRAM_QUOTA";

struct suffix {
    const char *text;
    unsigned base; /* 2 or 10 */
    unsigned power;
};

static const struct suffix SUFFIXES[] = {
    {"Ki", 2, 10}, {"Mi", 2, 20}, {"Gi", 2, 30}, {"Ti", 2, 40}, {"Pi", 2, 50}, {"Ei", 2, 60},
    {"k", 10, 3},  {"M", 10, 6},  {"G", 10, 9},  {"T", 10, 12}, {"P", 10, 15}, {"E", 10, 18},
    {"", 10, 0},
};

/* Reads an optional "e<int>"/"E<int>" exponent. Returns 1 and sets *exp when present. */
static int parse_exponent(const char *s, int *exp, const char **end) {
    if (*s != 'e' && *s != 'E')
        return 0;
    const char *p = s + 1;
    int sign = 1;
    if (*p == '+' || *p == '-')
        sign = (*p++ == '-') ? -1 : 1;
    if (*p < '0' || *p > '9')
        return 0; /* "E" alone is the exa suffix */
    int value = 0;
    while (*p >= '0' && *p <= '9' && value < 1000)
        value = value * 10 + (*p++ - '0');
    *exp = sign * value;
    *end = p;
    return 1;
}

/* mantissa * base^power / 10^scale, rounded up; -1 when it does not fit in 64 bits.
 * mantissa < 10^19 (at most 19 digits), so 128-bit arithmetic cannot overflow below `cap`. */
static int scale_value(unsigned __int128 mantissa, unsigned base, int power, int scale,
                       uint64_t *out) {
    const unsigned __int128 cap = (unsigned __int128)UINT64_MAX * 10000000000000000000ULL;
    for (; power > 0; power--) {
        if (mantissa > cap / base)
            return -1;
        mantissa *= base;
    }
    scale -= power; /* a negative power divides */
    if (scale > 19) {
        *out = mantissa > 0; /* a positive fraction of a byte rounds up to one byte */
        return 0;
    }
    unsigned __int128 divisor = 1;
    for (int i = 0; i < scale; i++)
        divisor *= 10;
    unsigned __int128 value = (mantissa + divisor - 1) / divisor;
    if (value > UINT64_MAX)
        return -1;
    *out = (uint64_t)value;
    return 0;
}

int hcs_parse_quantity(const char *text, uint64_t *bytes, const char **why) {
    const char *p = text;
    unsigned __int128 mantissa = 0;
    int digits = 0, scale = 0, seen_point = 0;
    if (*p == '+')
        p++;
    for (; (*p >= '0' && *p <= '9') || (*p == '.' && !seen_point); p++) {
        if (*p == '.') {
            seen_point = 1;
            continue;
        }
        if (++digits > 19)
            return *why = "too many digits", -1;
        mantissa = mantissa * 10 + (unsigned)(*p - '0');
        scale += seen_point;
    }
    if (digits == 0)
        return *why = (*p == '-') ? "negative" : "no number", -1;
    int exp = 0;
    const char *end = p;
    if (parse_exponent(p, &exp, &end)) {
        if (*end != '\0')
            return *why = "unexpected text after the exponent", -1;
        if (scale_value(mantissa, 10, exp, scale, bytes) != 0)
            return *why = "too large", -1;
        return 0;
    }
    for (size_t i = 0; i < sizeof SUFFIXES / sizeof SUFFIXES[0]; i++) {
        if (strcmp(p, SUFFIXES[i].text) == 0) {
            if (scale_value(mantissa, SUFFIXES[i].base, (int)SUFFIXES[i].power, scale, bytes) != 0)
                return *why = "too large", -1;
            return 0;
        }
    }
    *why = (*p == 'm' && p[1] == '\0') ? "milli-units are not bytes" : "unknown unit";
    return -1;
}

static void mark_invalid(struct hcs_config *c, const char *entry, const char *why) {
    if (!c->invalid)
        snprintf(c->problem, sizeof c->problem, "%.100s is invalid (%s)", entry, why);
    c->invalid = 1;
}

/* Index of "HCS_VRAM_QUOTA_<i>=...", -1 for the all-device variable, -2 when malformed. */
static int quota_index(const char *entry, const char **value) {
    const char *p = entry + sizeof QUOTA - 1;
    if (*p == '=') {
        *value = p + 1;
        return -1;
    }
    if (*p != '_' || p[1] < '0' || p[1] > '9')
        return -2;
    int index = 0;
    for (p++; *p >= '0' && *p <= '9'; p++) {
        index = index * 10 + (*p - '0');
        if (index >= HCS_MAX_DEVICES)
            return -2;
    }
    if (*p != '=')
        return -2;
    *value = p + 1;
    return index;
}

static void set_quota(struct hcs_config *c, int dev, uint64_t bytes, const char *entry) {
    c->quota[dev] = bytes;
    c->limited[dev] = 1;
    snprintf(c->source[dev], sizeof c->source[dev], "%.63s", entry);
}

static void load_quota(struct hcs_config *c, const char *entry, unsigned char *own) {
    const char *value = NULL, *why = NULL;
    uint64_t bytes = 0;
    int index = quota_index(entry, &value);
    if (index == -2)
        return mark_invalid(c, entry, "the name must be HCS_VRAM_QUOTA or HCS_VRAM_QUOTA_<0-31>");
    if (hcs_parse_quantity(value, &bytes, &why) != 0)
        return mark_invalid(c, entry, why);
    if (index >= 0) {
        set_quota(c, index, bytes, entry);
        own[index] = 1;
        return;
    }
    for (int dev = 0; dev < HCS_MAX_DEVICES; dev++)
        if (!own[dev])
            set_quota(c, dev, bytes, entry);
}

static void default_shm_path(struct hcs_config *c) {
    /* One region per PID namespace: slots are keyed by PID, which is only meaningful there. */
    char ns[64] = "";
    ssize_t n = readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
    ns[n > 0 ? n : 0] = '\0';
    unsigned long long inode = 0;
    if (sscanf(ns, "pid:[%llu]", &inode) != 1)
        inode = 0;
    snprintf(c->shm_path, sizeof c->shm_path, "/dev/shm/hcs-interceptor-%llu", inode);
}

void hcs_config_load(struct hcs_config *c, char *const *envp) {
    memset(c, 0, sizeof *c);
    unsigned char own[HCS_MAX_DEVICES] = {0};
    /* Per-device variables first, so that the all-device one fills only the rest. */
    for (int pass = 0; pass < 2 && envp != NULL; pass++) {
        for (char *const *e = envp; *e != NULL; e++) {
            if (strncmp(*e, QUOTA, sizeof QUOTA - 1) != 0)
                continue;
            int all = (*e)[sizeof QUOTA - 1] == '=';
            if (all == pass) {
                c->active = 1;
                load_quota(c, *e, own);
            }
        }
    }
    const char *path = NULL;
    for (char *const *e = envp; e != NULL && *e != NULL; e++)
        if (strncmp(*e, "HCS_SHM_PATH=", 13) == 0)
            path = *e + 13;
    if (path != NULL && *path != '\0')
        snprintf(c->shm_path, sizeof c->shm_path, "%s", path);
    else
        default_shm_path(c);
}
