/* libhcs_interceptor internals: one header for the modules of src/.
 *
 * Modules: quota.c (configuration from the environment), region.c (the shared-memory region
 * with one slot per process), ptrmap.c (pointer -> size of this process's allocations),
 * account.c (reserve / commit / release / virtualised memory info), symbols.c (the one path
 * that loads real symbols), dlsym.c (dlsym interposition), guard.c (initialisation, recursion
 * guard, fork handling, messages), and one hook_*.c per vendor API.
 */
#ifndef HCS_H
#define HCS_H

#include <stddef.h>
#include <stdint.h>

#define HCS_EXPORT __attribute__((visibility("default")))
#define HCS_MAX_DEVICES 32
#define HCS_SLOTS 256

/* ---- symbol table (symbols.c), generated from hooks.def ---- */
enum hcs_lib { HCS_LIB_CUDA, HCS_LIB_NVML, HCS_LIB_ACL, HCS_LIB_HIP, HCS_LIB_CNRT, HCS_LIB_COUNT };
enum hcs_stream { HCS_ANY, HCS_LEGACY, HCS_PTDS };

enum hcs_sym_id {
#define HCS_HOOK(lib, name, proc, vmin, vmax, stream) HCS_SYM_##name,
#define HCS_HELPER(lib, name) HCS_SYM_##name,
#include "hooks.def"
#undef HCS_HOOK
#undef HCS_HELPER
    HCS_SYM_COUNT
};

struct hcs_sym {
    const char *name;
    enum hcs_lib lib;
    void *wrapper; /* our exported function; NULL for helpers */
    const char *proc;
    int vmin, vmax;
    enum hcs_stream stream;
};

extern const struct hcs_sym hcs_syms[HCS_SYM_COUNT];

/* The real function for `id`, or NULL (after one stderr line naming it) when it cannot be
 * found. Order: the pointer a caller's own lookup returned, RTLD_NEXT, the vendor library. */
void *hcs_real(enum hcs_sym_id id);
/* Records `real` (found by the application's dlsym or cuGetProcAddress) as the real function
 * for `id`, unless it is our own wrapper. */
void hcs_offer_real(enum hcs_sym_id id, void *real);
/* Remembers that `fn` lives in `lib`'s library (where hcs_vendor_sym then looks). */
void hcs_note_vendor_fn(enum hcs_lib lib, void *fn);
/* The id of the hook exported under `name`, or -1. */
int hcs_hook_by_name(const char *name);
/* glibc's dlsym, found with dlvsym; aborts with a message when it cannot be found. */
typedef void *(*hcs_dlsym_fn)(void *, const char *);
hcs_dlsym_fn hcs_real_dlsym(void);
/* The real `name` inside the vendor library that holds `lib`'s symbols, or NULL. */
void *hcs_vendor_sym(enum hcs_lib lib, const char *name);

/* Convenience for wrappers: `fn` is the real function with the wrapper's own type, or the
 * wrapper returns `missing` (the vendor's "not initialised" code). */
#define HCS_REAL(name, fn, missing)                                \
    __typeof__(&name) fn = (__typeof__(&name))hcs_real(HCS_SYM_##name); \
    if (fn == NULL)                                                \
    return (missing)

/* ---- configuration (quota.c) ---- */
struct hcs_config {
    int active;  /* some HCS_VRAM_QUOTA* variable is set */
    int invalid; /* a quota variable is malformed: every tracked allocation is refused */
    char problem[200];
    uint64_t quota[HCS_MAX_DEVICES];
    unsigned char limited[HCS_MAX_DEVICES];
    char source[HCS_MAX_DEVICES][64]; /* "HCS_VRAM_QUOTA_1=4Gi", for messages */
    char shm_path[256];
};

/* Parses a Kubernetes quantity of bytes ("4Gi", "1.5G", "1e9", "1048576"). Returns 0, or -1
 * with a reason in `why`. */
int hcs_parse_quantity(const char *text, uint64_t *bytes, const char **why);
/* Fills `config` from `envp` (NULL-terminated "KEY=value" strings). */
void hcs_config_load(struct hcs_config *config, char *const *envp);

/* ---- initialisation, recursion guard, fork (guard.c) ---- */
const struct hcs_config *hcs_config(void);
/* Enters accounting for one API call: 1 when this call must be accounted (a quota is set and
 * this thread is not already inside a hook), 0 for pass-through. Pair 1 with hcs_leave(). */
int hcs_enter(void);
void hcs_leave(void);
/* One line on stderr, "hcs-interceptor: ...", errno preserved. */
void hcs_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void hcs_log_once(int *done, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- shared region (region.c) ---- */
int hcs_region_attach(const char *path, char *why, size_t why_len);
int hcs_region_lock(void);
void hcs_region_unlock(void);
/* Under the lock: this process's slot index (claimed on first use), or -1 when full. */
int hcs_region_my_slot(void);
/* Under the lock: bytes used on `dev` by every live process; dead slots are reclaimed first
 * when `reclaim` is set. */
uint64_t hcs_region_used(int dev, int reclaim);
void hcs_region_add(int slot, int dev, uint64_t bytes);
void hcs_region_sub(int slot, int dev, uint64_t bytes);
void hcs_region_after_fork_child(void);

/* ---- allocations of this process (ptrmap.c) ---- */
enum hcs_kind { HCS_KIND_PTR = 1, HCS_KIND_VMM_HANDLE = 2 };
int hcs_ptrmap_put(uint64_t key, enum hcs_kind kind, uint64_t bytes, int dev);
int hcs_ptrmap_take(uint64_t key, enum hcs_kind kind, uint64_t *bytes, int *dev);
void hcs_ptrmap_lock_for_fork(void);
void hcs_ptrmap_unlock_after_fork(int child);

/* ---- accounting (account.c) ---- */
struct hcs_ticket {
    int tracked; /* 0: this device has no quota, nothing was reserved */
    int slot;
    int dev;
    uint64_t bytes;
};
/* Reserves `bytes` on `dev` for `api` before the real allocation. Returns 0, or -1 when it
 * would exceed the quota (one line on stderr; the wrapper returns the API's OOM code). */
int hcs_reserve(struct hcs_ticket *t, int dev, uint64_t bytes, const char *api);
/* Grows a reservation to `bytes` after the real call reported the true size (pitch). */
int hcs_grow(struct hcs_ticket *t, uint64_t bytes, const char *api);
/* After the real call: on success records `key` so its free credits the right amount; on
 * failure returns the reservation. Returns -1 only when the record could not be stored: the
 * wrapper then frees the allocation and reports out-of-memory. */
int hcs_commit(struct hcs_ticket *t, int ok, uint64_t key, enum hcs_kind kind);
/* Before a real free: takes the record of `key` out (0 when it was ours). */
int hcs_release_begin(uint64_t key, enum hcs_kind kind, struct hcs_ticket *t);
/* After the real free: credits the quota if it succeeded, puts the record back if not. */
void hcs_release_end(struct hcs_ticket *t, int ok, uint64_t key, enum hcs_kind kind);
/* Rewrites a real (free, total) of `dev` into the container's view: total = quota (at most
 * the real total), free = quota - used (at most the real free). No-op without a quota. */
void hcs_virtual_info(int dev, uint64_t *free, uint64_t *total);
/* The current device from a vendor's `int get(int *)` helper (cuCtxGetDevice, aclrtGetDevice,
 * hipGetDevice, cnrtGetDevice); 0 when the helper is missing or fails. */
int hcs_current_device(enum hcs_sym_id helper);

#endif
