/* HIP runtime (AMD ROCm, Hygon DTK): hipMalloc, hipMallocManaged, hipFree, hipMemGetInfo.
 * Over quota: hipErrorOutOfMemory (2). Signatures from AMD's HIP runtime API reference. */
#include "hcs.h"
#include "hcs_vendor/hip.h"

static hipError_t hip_finish(struct hcs_ticket *t, hipError_t rc, void **ptr) {
    int ok = rc == hipSuccess;
    if (hcs_commit(t, ok, ok ? (uint64_t)(uintptr_t)*ptr : 0, HCS_KIND_PTR) == 0)
        return rc;
    __typeof__(&hipFree) release = (__typeof__(&hipFree))hcs_real(HCS_SYM_hipFree);
    if (release != NULL)
        release(*ptr);
    return hipErrorOutOfMemory;
}

static int hip_device(void) { return hcs_current_device(HCS_SYM_hipGetDevice); }

HCS_EXPORT hipError_t hipMalloc(void **ptr, size_t size) {
    HCS_REAL(hipMalloc, real, hipErrorNotInitialized);
    if (!hcs_enter())
        return real(ptr, size);
    struct hcs_ticket t;
    hipError_t rc = hipErrorOutOfMemory;
    if (hcs_reserve(&t, hip_device(), size, "hipMalloc") == 0)
        rc = hip_finish(&t, real(ptr, size), ptr);
    hcs_leave();
    return rc;
}

HCS_EXPORT hipError_t hipMallocManaged(void **dev_ptr, size_t size, unsigned int flags) {
    HCS_REAL(hipMallocManaged, real, hipErrorNotInitialized);
    if (!hcs_enter())
        return real(dev_ptr, size, flags);
    struct hcs_ticket t;
    hipError_t rc = hipErrorOutOfMemory;
    if (hcs_reserve(&t, hip_device(), size, "hipMallocManaged") == 0)
        rc = hip_finish(&t, real(dev_ptr, size, flags), dev_ptr);
    hcs_leave();
    return rc;
}

HCS_EXPORT hipError_t hipFree(void *ptr) {
    HCS_REAL(hipFree, real, hipErrorNotInitialized);
    if (!hcs_enter())
        return real(ptr);
    struct hcs_ticket t;
    uint64_t key = (uint64_t)(uintptr_t)ptr;
    hcs_release_begin(key, HCS_KIND_PTR, &t);
    hipError_t rc = real(ptr);
    hcs_release_end(&t, rc == hipSuccess, key, HCS_KIND_PTR);
    hcs_leave();
    return rc;
}

HCS_EXPORT hipError_t hipMemGetInfo(size_t *free, size_t *total) {
    HCS_REAL(hipMemGetInfo, real, hipErrorNotInitialized);
    if (!hcs_enter())
        return real(free, total);
    hipError_t rc = real(free, total);
    if (rc == hipSuccess && free != NULL && total != NULL) {
        uint64_t f = *free, t = *total;
        hcs_virtual_info(hip_device(), &f, &t);
        *free = (size_t)f;
        *total = (size_t)t;
    }
    hcs_leave();
    return rc;
}
