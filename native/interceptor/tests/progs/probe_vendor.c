/* probe_vendor VENDOR STEP...: drives the ACL, HIP or CNRT stub (or NVML) through direct calls
 * or dlsym, one line per step, for tests/test_vendors.py.
 *
 *   path=direct | path=dlsym   dev=N   alloc:KIND:BYTES   free   info   info:ATTR   fill:KIND:CHUNK
 * KIND: plain, cached (aclrtMallocCached), managed (hipMallocManaged). For nvml: info:INDEX.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hcs_vendor/acl.h"
#include "hcs_vendor/cnrt.h"
#include "hcs_vendor/hip.h"
#include "hcs_vendor/nvml.h"

static int direct;
static void *lib;
static const char *vendor;
static void *held[4096];
static int nheld;

static const struct {
    const char *name;
    void *fn;
} LINKED[] = {
    {"aclrtMalloc", (void *)aclrtMalloc}, {"aclrtMallocCached", (void *)aclrtMallocCached},
    {"aclrtFree", (void *)aclrtFree}, {"aclrtGetMemInfo", (void *)aclrtGetMemInfo},
    {"aclrtSetDevice", (void *)aclrtSetDevice}, {"hipMalloc", (void *)hipMalloc},
    {"hipMallocManaged", (void *)hipMallocManaged}, {"hipFree", (void *)hipFree},
    {"hipMemGetInfo", (void *)hipMemGetInfo}, {"hipSetDevice", (void *)hipSetDevice},
    {"cnrtMalloc", (void *)cnrtMalloc}, {"cnrtFree", (void *)cnrtFree},
    {"cnrtMemGetInfo", (void *)cnrtMemGetInfo}, {"cnrtSetDevice", (void *)cnrtSetDevice},
    {"nvmlInit_v2", (void *)nvmlInit_v2},
    {"nvmlDeviceGetHandleByIndex_v2", (void *)nvmlDeviceGetHandleByIndex_v2},
    {"nvmlDeviceGetMemoryInfo", (void *)nvmlDeviceGetMemoryInfo},
    {"nvmlDeviceGetMemoryInfo_v2", (void *)nvmlDeviceGetMemoryInfo_v2},
};

static void *fn(const char *name) {
    if (!direct)
        return dlsym(lib, name);
    for (size_t i = 0; i < sizeof LINKED / sizeof LINKED[0]; i++)
        if (strcmp(LINKED[i].name, name) == 0)
            return LINKED[i].fn;
    return NULL;
}

#define F(name) ((__typeof__(&name))fn(#name))

static int is(const char *v) { return strcmp(vendor, v) == 0; }

static int do_alloc(const char *kind, size_t size, void **p) {
    int cached = strcmp(kind, "cached") == 0, managed = strcmp(kind, "managed") == 0;
    if (is("acl"))
        return cached ? F(aclrtMallocCached)(p, size, 0) : F(aclrtMalloc)(p, size, 0);
    if (is("hip"))
        return managed ? F(hipMallocManaged)(p, size, 1) : F(hipMalloc)(p, size);
    return F(cnrtMalloc)(p, size);
}

static int do_free(void *p) {
    return is("acl") ? F(aclrtFree)(p) : is("hip") ? F(hipFree)(p) : F(cnrtFree)(p);
}

static void info(int attr) {
    size_t free = 0, total = 0;
    int rc;
    if (is("acl"))
        rc = F(aclrtGetMemInfo)((aclrtMemAttr)attr, &free, &total);
    else if (is("hip"))
        rc = F(hipMemGetInfo)(&free, &total);
    else
        rc = F(cnrtMemGetInfo)(&free, &total);
    printf("info rc=%d free=%zu total=%zu\n", rc, free, total);
}

static void nvml_info(unsigned int index) {
    nvmlDevice_t dev;
    nvmlMemory_t m1 = {0};
    nvmlMemory_v2_t m2 = {0};
    m2.version = (unsigned int)sizeof m2 | (2u << 24);
    F(nvmlInit_v2)();
    int rc = F(nvmlDeviceGetHandleByIndex_v2)(index, &dev);
    int rc1 = rc ? rc : F(nvmlDeviceGetMemoryInfo)(dev, &m1);
    int rc2 = rc ? rc : F(nvmlDeviceGetMemoryInfo_v2)(dev, &m2);
    printf("nvml rc=%d total=%llu free=%llu used=%llu\n", rc1, m1.total, m1.free, m1.used);
    printf("nvml_v2 rc=%d total=%llu free=%llu used=%llu reserved=%llu\n", rc2, m2.total,
           m2.free, m2.used, m2.reserved);
}

static void set_device(int dev) {
    int rc = is("acl") ? F(aclrtSetDevice)(dev) : is("hip") ? F(hipSetDevice)(dev) : F(cnrtSetDevice)(dev);
    printf("dev rc=%d\n", rc);
}

static void step(const char *arg) {
    char kind[16] = "";
    size_t size = 0;
    const char *colon = strchr(arg, ':');
    const char *second = colon ? strchr(colon + 1, ':') : NULL;
    if (colon && second) {
        snprintf(kind, sizeof kind, "%.*s", (int)(second - colon - 1), colon + 1);
        char *end;
        size = strtoull(second + 1, &end, 10);
        size <<= *end == 'M' ? 20 : *end == 'K' ? 10 : 0;
    }
    if (strcmp(arg, "path=direct") == 0) {
        direct = 1;
    } else if (strcmp(arg, "path=dlsym") == 0) {
        direct = 0;
    } else if (strncmp(arg, "dev=", 4) == 0) {
        set_device(atoi(arg + 4));
    } else if (strncmp(arg, "alloc:", 6) == 0) {
        void *p = NULL;
        int rc = do_alloc(kind, size, &p);
        if (rc == 0 && nheld < 4096)
            held[nheld++] = p;
        printf("alloc %s rc=%d\n", kind, rc);
    } else if (strcmp(arg, "free") == 0 && nheld > 0) {
        printf("free rc=%d\n", do_free(held[--nheld]));
    } else if (strncmp(arg, "fill:", 5) == 0) {
        int count = 0;
        void *p;
        while (count < 4000 && do_alloc(kind, size, &p) == 0 && nheld < 4096)
            held[nheld++] = p, count++;
        printf("fill %s count=%d\n", kind, count);
    } else if (strncmp(arg, "info", 4) == 0) {
        if (is("nvml"))
            nvml_info(arg[4] == ':' ? (unsigned)atoi(arg + 5) : 0);
        else
            info(arg[4] == ':' ? atoi(arg + 5) : ACL_HBM_MEM);
    } else {
        printf("unknown step %s\n", arg);
    }
    fflush(stdout);
}

int main(int argc, char **argv) {
    static const char *const SONAMES[][2] = {{"acl", "libascendcl.so"}, {"hip", "libamdhip64.so"},
                                             {"cnrt", "libcnrt.so"}, {"nvml", "libnvidia-ml.so.1"}};
    if (argc < 2)
        return 2;
    vendor = argv[1];
    for (size_t i = 0; i < 4; i++)
        if (strcmp(SONAMES[i][0], vendor) == 0)
            lib = dlopen(SONAMES[i][1], RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        printf("cannot open the %s library: %s\n", vendor, dlerror());
        return 2;
    }
    for (int i = 2; i < argc; i++)
        step(argv[i]);
    return 0;
}
