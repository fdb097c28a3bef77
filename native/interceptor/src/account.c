/* Accounting: reserve before the real allocation, commit or roll back after it, credit on
 * free, and the container's view of free/total memory.
 *
 * Reserve-then-commit: the bytes are added to this process's slot (under the region lock,
 * checked against the quota together with every other live process) before the vendor call,
 * so two processes racing for the last bytes cannot both pass; a process killed between the
 * reservation and the vendor's answer loses its reservation with its slot. Every entry point
 * preserves errno.
 */
#include <errno.h>
#include <pthread.h>

#include "hcs.h"

static pthread_once_t attach_once = PTHREAD_ONCE_INIT;
static int attach_failed;
static char attach_problem[200];

static void attach(void) {
    const struct hcs_config *c = hcs_config();
    if (hcs_region_attach(c->shm_path, attach_problem, sizeof attach_problem) != 0) {
        attach_failed = 1;
        hcs_log("the accounting region %s is unusable (%s): device allocations are refused",
                c->shm_path, attach_problem);
    }
}

static int refuse(const char *api, uint64_t bytes, int dev, const char *why) {
    hcs_log("%s of %llu bytes on device %d refused: %s", api, (unsigned long long)bytes, dev,
            why);
    return -1;
}

static int refuse_quota(const char *api, uint64_t bytes, int dev, uint64_t used) {
    const struct hcs_config *c = hcs_config();
    hcs_log("%s of %llu bytes on device %d refused: VRAM quota %s (%llu bytes) reached, %llu "
            "bytes in use by this container",
            api, (unsigned long long)bytes, dev, c->source[dev],
            (unsigned long long)c->quota[dev], (unsigned long long)used);
    return -1;
}

/* Under the region lock: whether `bytes` more fit on `dev`; reclaims dead slots if not. */
static int fits(int dev, uint64_t bytes, uint64_t *used) {
    uint64_t quota = hcs_config()->quota[dev];
    *used = hcs_region_used(dev, 0);
    if (bytes <= quota && *used <= quota - bytes)
        return 1;
    *used = hcs_region_used(dev, 1);
    return bytes <= quota && *used <= quota - bytes;
}

/* Adds `bytes` to this process's slot on `dev` if they fit. 0, or -1 after a message. */
static int take(struct hcs_ticket *t, uint64_t bytes, const char *api) {
    const struct hcs_config *c = hcs_config();
    if (c->invalid)
        return refuse(api, bytes, t->dev, c->problem);
    pthread_once(&attach_once, attach);
    if (attach_failed)
        return refuse(api, bytes, t->dev, "the accounting region is unusable");
    if (hcs_region_lock() != 0)
        return refuse(api, bytes, t->dev, "the accounting region's lock is unrecoverable");
    uint64_t used = 0;
    int slot = hcs_region_my_slot();
    int ok = slot >= 0 && fits(t->dev, bytes, &used);
    if (ok)
        hcs_region_add(slot, t->dev, bytes);
    hcs_region_unlock();
    if (slot < 0)
        return refuse(api, bytes, t->dev, "every accounting slot is held by a live process");
    if (!ok)
        return refuse_quota(api, bytes, t->dev, used);
    t->slot = slot;
    return 0;
}

int hcs_reserve(struct hcs_ticket *t, int dev, uint64_t bytes, const char *api) {
    int saved = errno;
    const struct hcs_config *c = hcs_config();
    *t = (struct hcs_ticket){.tracked = 0, .slot = -1, .dev = dev, .bytes = bytes};
    int rc = 0;
    if (dev < 0 || dev >= HCS_MAX_DEVICES)
        rc = refuse(api, bytes, dev, "device index beyond the 32 the interceptor accounts");
    else if (c->limited[dev] || c->invalid)
        rc = take(t, bytes, api);
    t->tracked = (rc == 0 && c->limited[dev]);
    errno = saved;
    return rc;
}

int hcs_grow(struct hcs_ticket *t, uint64_t bytes, const char *api) {
    if (!t->tracked || bytes <= t->bytes)
        return 0;
    int saved = errno;
    struct hcs_ticket extra = *t;
    int rc = take(&extra, bytes - t->bytes, api);
    if (rc == 0)
        t->bytes = bytes;
    errno = saved;
    return rc;
}

static void give_back(int slot, int dev, uint64_t bytes) {
    if (hcs_region_lock() != 0)
        return;
    hcs_region_sub(slot, dev, bytes);
    hcs_region_unlock();
}

int hcs_commit(struct hcs_ticket *t, int ok, uint64_t key, enum hcs_kind kind) {
    if (!t->tracked)
        return 0;
    int saved = errno, rc = 0;
    if (ok && key != 0 && hcs_ptrmap_put(key, kind, t->bytes, t->dev) == 0)
        goto out;
    if (ok && key != 0) {
        hcs_log("cannot record an allocation of %llu bytes (out of host memory): refused",
                (unsigned long long)t->bytes);
        rc = -1;
    }
    give_back(t->slot, t->dev, t->bytes);
out:
    errno = saved;
    return rc;
}

int hcs_release_begin(uint64_t key, enum hcs_kind kind, struct hcs_ticket *t) {
    int saved = errno;
    *t = (struct hcs_ticket){0};
    t->tracked = key != 0 && hcs_ptrmap_take(key, kind, &t->bytes, &t->dev);
    errno = saved;
    return t->tracked;
}

void hcs_release_end(struct hcs_ticket *t, int ok, uint64_t key, enum hcs_kind kind) {
    if (!t->tracked)
        return;
    int saved = errno;
    if (!ok) {
        (void)hcs_ptrmap_put(key, kind, t->bytes, t->dev); /* still allocated */
    } else if (hcs_region_lock() == 0) {
        int slot = hcs_region_my_slot();
        if (slot >= 0)
            hcs_region_sub(slot, t->dev, t->bytes);
        hcs_region_unlock();
    }
    errno = saved;
}

void hcs_virtual_info(int dev, uint64_t *free, uint64_t *total) {
    const struct hcs_config *c = hcs_config();
    if (!c->active || dev < 0 || dev >= HCS_MAX_DEVICES || !(c->limited[dev] || c->invalid))
        return;
    int saved = errno;
    uint64_t used = 0, quota = c->invalid ? 0 : c->quota[dev];
    pthread_once(&attach_once, attach);
    if (c->invalid || attach_failed || hcs_region_lock() != 0) {
        used = quota; /* nothing can be allocated: show no free memory */
    } else {
        used = hcs_region_used(dev, 1);
        hcs_region_unlock();
    }
    uint64_t vtotal = quota < *total ? quota : *total;
    uint64_t vfree = vtotal > used ? vtotal - used : 0;
    *total = vtotal;
    *free = vfree < *free ? vfree : *free;
    errno = saved;
}

int hcs_current_device(enum hcs_sym_id helper) {
    static int told[HCS_SYM_COUNT];
    int (*get)(int *) = (int (*)(int *))hcs_real(helper);
    int dev = 0;
    if (get == NULL)
        hcs_log_once(&told[helper], "%s not found: allocations are accounted on device 0",
                     hcs_syms[helper].name);
    else if (get(&dev) != 0)
        dev = 0; /* no current device: the vendor call will fail on its own */
    return dev;
}
