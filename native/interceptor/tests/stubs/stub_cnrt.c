/* Fake libcnrt.so. */
#include "hcs_vendor/cnrt.h"
#include "stub_device.h"

static cnrtRet_t rc_of(int r) { return r == 0 ? cnrtSuccess : r == -1 ? cnrtErrorNoMem : 1; }

cnrtRet_t cnrtSetDevice(int id) {
    if (id < 0 || id >= STUB_DEVICES)
        return 1;
    stub_current = id;
    return cnrtSuccess;
}

cnrtRet_t cnrtGetDevice(int *id) {
    *id = stub_current;
    return cnrtSuccess;
}

cnrtRet_t cnrtMalloc(void **p, size_t size) { return rc_of(stub_alloc(size, stub_current, p)); }
cnrtRet_t cnrtFree(void *p) { return rc_of(stub_free(p)); }

cnrtRet_t cnrtMemGetInfo(size_t *free, size_t *total) {
    uint64_t f, t;
    stub_info(stub_current, &f, &t);
    *free = f;
    *total = t;
    return cnrtSuccess;
}
