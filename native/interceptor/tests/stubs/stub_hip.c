/* Fake libamdhip64.so: hipMallocManaged is implemented through hipMalloc (a nested call the
 * interceptor must count once). */
#include "hcs_vendor/hip.h"
#include "stub_device.h"

static hipError_t rc_of(int r) {
    return r == 0 ? hipSuccess : r == -1 ? hipErrorOutOfMemory : hipErrorInvalidValue;
}

hipError_t hipSetDevice(int id) {
    if (id < 0 || id >= STUB_DEVICES)
        return hipErrorInvalidValue;
    stub_current = id;
    return hipSuccess;
}

hipError_t hipGetDevice(int *id) {
    *id = stub_current;
    return hipSuccess;
}

hipError_t hipMalloc(void **p, size_t size) { return rc_of(stub_alloc(size, stub_current, p)); }

hipError_t hipMallocManaged(void **p, size_t size, unsigned int flags) {
    (void)flags;
    return hipMalloc(p, size);
}

hipError_t hipFree(void *p) { return p == NULL ? hipSuccess : rc_of(stub_free(p)); }

hipError_t hipMemGetInfo(size_t *free, size_t *total) {
    uint64_t f, t;
    stub_info(stub_current, &f, &t);
    *free = f;
    *total = t;
    return hipSuccess;
}
