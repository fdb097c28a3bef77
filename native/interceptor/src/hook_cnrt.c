/* Cambricon CNRT: cnrtMalloc, cnrtFree, cnrtMemGetInfo. Over quota: cnrtErrorNoMem (100100).
 * Signatures from Cambricon's CNRT developer guide (CNRT 6.x). */
#include "hcs.h"
#include "hcs_vendor/cnrt.h"

/* Returned only when the real function does not exist at all: no CNRT code means that. */
enum { CNRT_NOT_INITIALISED = -1 };

static int cnrt_device(void) { return hcs_current_device(HCS_SYM_cnrtGetDevice); }

HCS_EXPORT cnrtRet_t cnrtMalloc(void **ptr, size_t bytes) {
    HCS_REAL(cnrtMalloc, real, CNRT_NOT_INITIALISED);
    if (!hcs_enter())
        return real(ptr, bytes);
    struct hcs_ticket t;
    cnrtRet_t rc = cnrtErrorNoMem;
    if (hcs_reserve(&t, cnrt_device(), bytes, "cnrtMalloc") == 0) {
        rc = real(ptr, bytes);
        int ok = rc == cnrtSuccess;
        if (hcs_commit(&t, ok, ok ? (uint64_t)(uintptr_t)*ptr : 0, HCS_KIND_PTR) != 0) {
            __typeof__(&cnrtFree) release = (__typeof__(&cnrtFree))hcs_real(HCS_SYM_cnrtFree);
            if (release != NULL)
                release(*ptr);
            rc = cnrtErrorNoMem;
        }
    }
    hcs_leave();
    return rc;
}

HCS_EXPORT cnrtRet_t cnrtFree(void *ptr) {
    HCS_REAL(cnrtFree, real, CNRT_NOT_INITIALISED);
    if (!hcs_enter())
        return real(ptr);
    struct hcs_ticket t;
    uint64_t key = (uint64_t)(uintptr_t)ptr;
    hcs_release_begin(key, HCS_KIND_PTR, &t);
    cnrtRet_t rc = real(ptr);
    hcs_release_end(&t, rc == cnrtSuccess, key, HCS_KIND_PTR);
    hcs_leave();
    return rc;
}

HCS_EXPORT cnrtRet_t cnrtMemGetInfo(size_t *free, size_t *total) {
    HCS_REAL(cnrtMemGetInfo, real, CNRT_NOT_INITIALISED);
    if (!hcs_enter())
        return real(free, total);
    cnrtRet_t rc = real(free, total);
    if (rc == cnrtSuccess && free != NULL && total != NULL) {
        uint64_t f = *free, t = *total;
        hcs_virtual_info(cnrt_device(), &f, &t);
        *free = (size_t)f;
        *total = (size_t)t;
    }
    hcs_leave();
    return rc;
}
