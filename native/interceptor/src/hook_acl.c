/* Huawei Ascend ACL runtime: aclrtMalloc, aclrtMallocCached, aclrtFree, aclrtGetMemInfo.
 * Over quota: ACL_ERROR_RT_MEMORY_ALLOCATION (207001). aclrtGetMemInfo is virtualised for the
 * aggregate attributes ACL_DDR_MEM and ACL_HBM_MEM (what torch_npu's mem_get_info reads).
 * Signatures from Huawei's CANN AscendCL API reference. */
#include "hcs.h"
#include "hcs_vendor/acl.h"

typedef aclError (*acl_alloc_fn)(void **, size_t, aclrtMemMallocPolicy);

static aclError acl_alloc(enum hcs_sym_id id, void **ptr, size_t size, aclrtMemMallocPolicy p) {
    acl_alloc_fn real = (acl_alloc_fn)hcs_real(id);
    if (real == NULL)
        return ACL_ERROR_INVALID_PARAM;
    if (!hcs_enter())
        return real(ptr, size, p);
    struct hcs_ticket t;
    aclError rc = ACL_ERROR_RT_MEMORY_ALLOCATION;
    if (hcs_reserve(&t, hcs_current_device(HCS_SYM_aclrtGetDevice), size, hcs_syms[id].name) ==
        0) {
        rc = real(ptr, size, p);
        int ok = rc == ACL_SUCCESS;
        if (hcs_commit(&t, ok, ok ? (uint64_t)(uintptr_t)*ptr : 0, HCS_KIND_PTR) != 0) {
            __typeof__(&aclrtFree) release = (__typeof__(&aclrtFree))hcs_real(HCS_SYM_aclrtFree);
            if (release != NULL)
                release(*ptr);
            rc = ACL_ERROR_RT_MEMORY_ALLOCATION;
        }
    }
    hcs_leave();
    return rc;
}

HCS_EXPORT aclError aclrtMalloc(void **dev_ptr, size_t size, aclrtMemMallocPolicy policy) {
    return acl_alloc(HCS_SYM_aclrtMalloc, dev_ptr, size, policy);
}

HCS_EXPORT aclError aclrtMallocCached(void **dev_ptr, size_t size, aclrtMemMallocPolicy policy) {
    return acl_alloc(HCS_SYM_aclrtMallocCached, dev_ptr, size, policy);
}

HCS_EXPORT aclError aclrtFree(void *dev_ptr) {
    HCS_REAL(aclrtFree, real, ACL_ERROR_INVALID_PARAM);
    if (!hcs_enter())
        return real(dev_ptr);
    struct hcs_ticket t;
    uint64_t key = (uint64_t)(uintptr_t)dev_ptr;
    hcs_release_begin(key, HCS_KIND_PTR, &t);
    aclError rc = real(dev_ptr);
    hcs_release_end(&t, rc == ACL_SUCCESS, key, HCS_KIND_PTR);
    hcs_leave();
    return rc;
}

HCS_EXPORT aclError aclrtGetMemInfo(aclrtMemAttr attr, size_t *free, size_t *total) {
    HCS_REAL(aclrtGetMemInfo, real, ACL_ERROR_INVALID_PARAM);
    if (!hcs_enter())
        return real(attr, free, total);
    aclError rc = real(attr, free, total);
    if (rc == ACL_SUCCESS && free != NULL && total != NULL &&
        (attr == ACL_DDR_MEM || attr == ACL_HBM_MEM)) {
        uint64_t f = *free, t = *total;
        hcs_virtual_info(hcs_current_device(HCS_SYM_aclrtGetDevice), &f, &t);
        *free = (size_t)f;
        *total = (size_t)t;
    }
    hcs_leave();
    return rc;
}
