/* The one path that loads real symbols (libeatmydata's discipline).
 *
 * Every wrapper gets its real function from hcs_real(), which tries, in order:
 *   1. the pointer the application's own lookup returned (dlsym on a vendor handle, or
 *      cuGetProcAddress), recorded by hcs_offer_real();
 *   2. dlsym(RTLD_NEXT): the vendor library linked into the program;
 *   3. the vendor library itself: the object that holds pointers already seen for that
 *      vendor, else its soname if loaded, else loaded by soname.
 * A required symbol (a hook's own real function) that cannot be found is named once on
 * stderr; helpers (the current device) are optional and their callers fall back.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hcs.h"
#include "hcs_vendor/acl.h"
#include "hcs_vendor/cnrt.h"
#include "hcs_vendor/cuda.h"
#include "hcs_vendor/hip.h"
#include "hcs_vendor/nvml.h"

const struct hcs_sym hcs_syms[HCS_SYM_COUNT] = {
#define HCS_HOOK(lib, name, proc, vmin, vmax, stream) \
    [HCS_SYM_##name] = {#name, HCS_LIB_##lib, (void *)&name, proc, vmin, vmax, stream},
#define HCS_HELPER(lib, name) [HCS_SYM_##name] = {#name, HCS_LIB_##lib, NULL, 0, 0, 0, HCS_ANY},
#include "hooks.def"
#undef HCS_HOOK
#undef HCS_HELPER
};

static const char *const SONAMES[HCS_LIB_COUNT][4] = {
    [HCS_LIB_CUDA] = {"libcuda.so.1", "libcuda.so", NULL},
    [HCS_LIB_NVML] = {"libnvidia-ml.so.1", "libnvidia-ml.so", NULL},
    [HCS_LIB_ACL] = {"libascendcl.so", NULL},
    [HCS_LIB_HIP] = {"libamdhip64.so", "libamdhip64.so.6", "libamdhip64.so.5", NULL},
    [HCS_LIB_CNRT] = {"libcnrt.so", NULL},
};

static void *real[HCS_SYM_COUNT];
static int missing_told[HCS_SYM_COUNT];
static void *anchor[HCS_LIB_COUNT]; /* some real function known to live in the vendor library */
static void *handle[HCS_LIB_COUNT];

static hcs_dlsym_fn glibc_dlsym;
static pthread_once_t dlsym_once = PTHREAD_ONCE_INIT;

static void find_glibc_dlsym(void) {
    /* glibc 2.34 moved dlsym into libc (GLIBC_2.34); older ones and the compatibility symbol
     * carry the architecture's base version. */
    static const char *const versions[] = {"GLIBC_2.34", "GLIBC_2.2.5", "GLIBC_2.17", NULL};
    for (int i = 0; versions[i] != NULL && glibc_dlsym == NULL; i++)
        glibc_dlsym = (hcs_dlsym_fn)dlvsym(RTLD_NEXT, "dlsym", versions[i]);
    if (glibc_dlsym == NULL) {
        hcs_log("cannot find glibc's dlsym (tried GLIBC_2.34, 2.2.5, 2.17); aborting");
        abort();
    }
}

hcs_dlsym_fn hcs_real_dlsym(void) {
    pthread_once(&dlsym_once, find_glibc_dlsym);
    return glibc_dlsym;
}

static void *open_vendor(enum hcs_lib lib) {
    void *h = NULL;
    void *known = __atomic_load_n(&anchor[lib], __ATOMIC_ACQUIRE);
    Dl_info info;
    if (known != NULL && dladdr(known, &info) != 0 && info.dli_fname != NULL)
        h = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    for (int i = 0; h == NULL && SONAMES[lib][i] != NULL; i++)
        h = dlopen(SONAMES[lib][i], RTLD_LAZY | RTLD_NOLOAD);
    for (int i = 0; h == NULL && SONAMES[lib][i] != NULL; i++)
        h = dlopen(SONAMES[lib][i], RTLD_LAZY | RTLD_LOCAL);
    return h;
}

void *hcs_vendor_sym(enum hcs_lib lib, const char *name) {
    void *h = __atomic_load_n(&handle[lib], __ATOMIC_ACQUIRE);
    if (h == NULL) {
        h = open_vendor(lib);
        if (h == NULL)
            return NULL;
        __atomic_store_n(&handle[lib], h, __ATOMIC_RELEASE);
    }
    return hcs_real_dlsym()(h, name);
}

void hcs_note_vendor_fn(enum hcs_lib lib, void *fn) {
    void *expected = NULL;
    if (fn != NULL)
        __atomic_compare_exchange_n(&anchor[lib], &expected, fn, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE);
}

void hcs_offer_real(enum hcs_sym_id id, void *fn) {
    if (fn == NULL || fn == hcs_syms[id].wrapper)
        return;
    __atomic_store_n(&real[id], fn, __ATOMIC_RELEASE);
    hcs_note_vendor_fn(hcs_syms[id].lib, fn);
}

void *hcs_real(enum hcs_sym_id id) {
    void *fn = __atomic_load_n(&real[id], __ATOMIC_ACQUIRE);
    if (fn != NULL)
        return fn;
    int saved = errno;
    const struct hcs_sym *s = &hcs_syms[id];
    fn = hcs_real_dlsym()(RTLD_NEXT, s->name);
    if (fn == NULL || fn == s->wrapper)
        fn = hcs_vendor_sym(s->lib, s->name);
    if (fn == s->wrapper)
        fn = NULL;
    if (fn != NULL)
        hcs_offer_real(id, fn);
    else if (s->wrapper != NULL)
        hcs_log_once(&missing_told[id], "cannot find the real %s (%s): the call fails", s->name,
                     SONAMES[s->lib][0]);
    errno = saved;
    return fn;
}

int hcs_hook_by_name(const char *name) {
    if (name == NULL || strchr("cnah", name[0]) == NULL)
        return -1;
    for (int id = 0; id < HCS_SYM_COUNT; id++)
        if (hcs_syms[id].wrapper != NULL && strcmp(hcs_syms[id].name, name) == 0)
            return id;
    return -1;
}
