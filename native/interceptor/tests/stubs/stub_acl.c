/* Fake libascendcl.so: aclrtMallocCached is implemented through aclrtMalloc (a nested call
 * the interceptor must count once). */
#include "hcs_vendor/acl.h"
#include "stub_device.h"

static aclError rc_of(int r) {
    return r == 0 ? ACL_SUCCESS : r == -1 ? ACL_ERROR_RT_MEMORY_ALLOCATION : ACL_ERROR_INVALID_PARAM;
}

aclError aclrtSetDevice(int32_t id) {
    if (id < 0 || id >= STUB_DEVICES)
        return ACL_ERROR_INVALID_PARAM;
    stub_current = id;
    return ACL_SUCCESS;
}

aclError aclrtGetDevice(int32_t *id) {
    *id = stub_current;
    return ACL_SUCCESS;
}

aclError aclrtMalloc(void **p, size_t size, aclrtMemMallocPolicy policy) {
    (void)policy;
    return rc_of(stub_alloc(size, stub_current, p));
}

aclError aclrtMallocCached(void **p, size_t size, aclrtMemMallocPolicy policy) {
    return aclrtMalloc(p, size, policy);
}

aclError aclrtFree(void *p) { return rc_of(stub_free(p)); }

aclError aclrtGetMemInfo(aclrtMemAttr attr, size_t *free, size_t *total) {
    uint64_t f, t;
    stub_info(stub_current, &f, &t);
    if (attr == ACL_HBM_MEM_HUGE)
        f /= 2, t /= 2; /* a part of the memory: not virtualised */
    *free = f;
    *total = t;
    return ACL_SUCCESS;
}
