/* Fake libcuda.so.1 for the interceptor's tests: the driver entry points the interceptor
 * wraps, cuGetProcAddress/_v2 answering like the real driver (versioned, _ptsz flavours),
 * and cuMemAllocManaged implemented through cuMemAlloc_v2 (a nested call the interceptor must
 * count once). cuCtxSetCurrent((CUcontext)(n + 1)) selects device n. */
#include <string.h>

#include "hcs_vendor/cuda.h"
#include "stub_device.h"

static CUresult rc_of(int r) {
    return r == 0 ? CUDA_SUCCESS : r == -1 ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_ERROR_INVALID_VALUE;
}

static CUresult impl_cuInit(unsigned int flags) { return flags == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE; }

static CUresult impl_cuCtxSetCurrent(CUcontext ctx) {
    int dev = (int)(intptr_t)ctx - 1;
    if (dev < 0 || dev >= STUB_DEVICES)
        return CUDA_ERROR_INVALID_VALUE;
    stub_current = dev;
    return CUDA_SUCCESS;
}

static CUresult impl_cuCtxGetDevice(CUdevice *device) {
    *device = stub_current;
    return CUDA_SUCCESS;
}

static CUresult alloc_ptr(CUdeviceptr *dptr, size_t size) {
    void *p = NULL;
    int r = stub_alloc(size, stub_current, &p);
    if (r == 0)
        *dptr = (CUdeviceptr)(uintptr_t)p;
    return rc_of(r);
}

static CUresult impl_cuMemAlloc(unsigned int *dptr, unsigned int size) { /* the pre-3.2 ABI */ (void)dptr, (void)size; return CUDA_ERROR_INVALID_VALUE; }
static CUresult impl_cuMemAlloc_v2(CUdeviceptr *dptr, size_t size) { return alloc_ptr(dptr, size); }
static CUresult impl_cuMemFree_v2(CUdeviceptr dptr) { return rc_of(stub_free((void *)(uintptr_t)dptr)); }

static CUresult impl_cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pitch, size_t width, size_t height,
                            unsigned int element_size) {
    if (element_size != 4 && element_size != 8 && element_size != 16)
        return CUDA_ERROR_INVALID_VALUE;
    *pitch = (width + 511) / 512 * 512;
    return alloc_ptr(dptr, *pitch * height);
}

static CUresult impl_cuMemAllocManaged(CUdeviceptr *dptr, size_t size, unsigned int flags) {
    (void)flags;
    return cuMemAlloc_v2(dptr, size); /* through the PLT: reaches the interceptor again */
}

static CUresult impl_cuMemGetInfo_v2(size_t *free, size_t *total) {
    uint64_t f, t;
    stub_info(stub_current, &f, &t);
    *free = f;
    *total = t;
    return CUDA_SUCCESS;
}

static CUresult impl_cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
                     const CUmemAllocationProp *prop, unsigned long long flags) {
    void *p = NULL;
    int dev = prop->location.type == CU_MEM_LOCATION_TYPE_DEVICE ? prop->location.id : 0;
    int r = flags == 0 ? stub_alloc(size, dev, &p) : -2;
    if (r == 0)
        *handle = (CUmemGenericAllocationHandle)(uintptr_t)p;
    return rc_of(r);
}

static CUresult impl_cuMemRelease(CUmemGenericAllocationHandle handle) {
    return rc_of(stub_free((void *)(uintptr_t)handle));
}

static CUresult impl_cuMemAllocAsync(CUdeviceptr *dptr, size_t size, CUstream s) { (void)s; return alloc_ptr(dptr, size); }
static CUresult impl_cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t size, CUstream s) { (void)s; return alloc_ptr(dptr, size); }
static CUresult impl_cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t size, CUmemoryPool pool, CUstream s) {
    (void)pool, (void)s;
    return alloc_ptr(dptr, size);
}
static CUresult impl_cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t size, CUmemoryPool pool,
                                      CUstream s) {
    (void)pool, (void)s;
    return alloc_ptr(dptr, size);
}
static CUresult impl_cuMemFreeAsync(CUdeviceptr dptr, CUstream s) { (void)s; return impl_cuMemFree_v2(dptr); }
static CUresult impl_cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream s) { (void)s; return impl_cuMemFree_v2(dptr); }

/* The table below holds the library's own addresses (as the real driver's does), so the
 * functions are defined static and exported through aliases of the same address. */
static CUresult impl_cuGetProcAddress_v2(const char *, void **, int, cuuint64_t,
                                         CUdriverProcAddressQueryResult *);
static CUresult impl_cuGetProcAddress(const char *, void **, int, cuuint64_t);

/* A variant the interceptor has never heard of, answered for cudaVersion >= 99000. */
static CUresult future_mem_alloc(CUdeviceptr *dptr, size_t size) { return alloc_ptr(dptr, size); }

struct proc {
    const char *name;
    int since;
    void *fn;
    void *ptsz;
};

static const struct proc PROCS[] = {
    {"cuMemAlloc", 99000, (void *)future_mem_alloc, NULL},
    {"cuMemAlloc", 3020, (void *)impl_cuMemAlloc_v2, NULL},
    {"cuMemAlloc", 1000, (void *)impl_cuMemAlloc, NULL},
    {"cuMemAllocPitch", 3020, (void *)impl_cuMemAllocPitch_v2, NULL},
    {"cuMemFree", 3020, (void *)impl_cuMemFree_v2, NULL},
    {"cuMemGetInfo", 3020, (void *)impl_cuMemGetInfo_v2, NULL},
    {"cuMemAllocManaged", 6000, (void *)impl_cuMemAllocManaged, NULL},
    {"cuMemCreate", 10020, (void *)impl_cuMemCreate, NULL},
    {"cuMemRelease", 10020, (void *)impl_cuMemRelease, NULL},
    {"cuMemAllocAsync", 11020, (void *)impl_cuMemAllocAsync, (void *)impl_cuMemAllocAsync_ptsz},
    {"cuMemAllocFromPoolAsync", 11020, (void *)impl_cuMemAllocFromPoolAsync,
     (void *)impl_cuMemAllocFromPoolAsync_ptsz},
    {"cuMemFreeAsync", 11020, (void *)impl_cuMemFreeAsync, (void *)impl_cuMemFreeAsync_ptsz},
    {"cuGetProcAddress", 12000, (void *)impl_cuGetProcAddress_v2, NULL},
    {"cuGetProcAddress", 11030, (void *)impl_cuGetProcAddress, NULL},
    {"cuCtxGetDevice", 2000, (void *)impl_cuCtxGetDevice, NULL},
    {"cuCtxSetCurrent", 4000, (void *)impl_cuCtxSetCurrent, NULL},
    {"cuInit", 2000, (void *)impl_cuInit, NULL},
};

static CUresult impl_cuGetProcAddress_v2(const char *symbol, void **pfn, int version, cuuint64_t flags,
                             CUdriverProcAddressQueryResult *status) {
    int found = 0;
    for (size_t i = 0; i < sizeof PROCS / sizeof PROCS[0]; i++) {
        if (strcmp(PROCS[i].name, symbol) != 0)
            continue;
        found = 1;
        if (version < PROCS[i].since)
            continue;
        int ptds = (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0;
        *pfn = (ptds && PROCS[i].ptsz) ? PROCS[i].ptsz : PROCS[i].fn;
        if (status)
            *status = CU_GET_PROC_ADDRESS_SUCCESS;
        return CUDA_SUCCESS;
    }
    *pfn = NULL;
    if (status)
        *status = found ? CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT
                        : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    return CUDA_ERROR_NOT_FOUND;
}

static CUresult impl_cuGetProcAddress(const char *symbol, void **pfn, int version, cuuint64_t flags) {
    return impl_cuGetProcAddress_v2(symbol, pfn, version, flags, NULL);
}

/* The exported names. */
#define EXPORT(name) __typeof__(impl_##name) name __attribute__((alias("impl_" #name)));
CUresult cuMemAlloc(unsigned int *dptr, unsigned int size);
EXPORT(cuMemAlloc)
EXPORT(cuInit)
EXPORT(cuCtxSetCurrent)
EXPORT(cuCtxGetDevice)
EXPORT(cuMemAlloc_v2)
EXPORT(cuMemFree_v2)
EXPORT(cuMemAllocPitch_v2)
EXPORT(cuMemAllocManaged)
EXPORT(cuMemGetInfo_v2)
EXPORT(cuMemCreate)
EXPORT(cuMemRelease)
EXPORT(cuMemAllocAsync)
EXPORT(cuMemAllocAsync_ptsz)
EXPORT(cuMemAllocFromPoolAsync)
EXPORT(cuMemAllocFromPoolAsync_ptsz)
EXPORT(cuMemFreeAsync)
EXPORT(cuMemFreeAsync_ptsz)
EXPORT(cuGetProcAddress_v2)
EXPORT(cuGetProcAddress)

/* Test-only: bytes the fake device really holds, to prove a refused call allocated nothing. */
unsigned long long hcsStubUsed(int dev);
unsigned long long hcsStubUsed(int dev) { return __atomic_load_n(&stub_used[dev], __ATOMIC_ACQUIRE); }
