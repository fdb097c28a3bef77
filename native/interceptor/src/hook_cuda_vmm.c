/* CUDA driver API: virtual memory management (cuMemCreate/cuMemRelease, what PyTorch's
 * expandable segments use) and the stream-ordered allocator (cuMemAllocAsync,
 * cuMemAllocFromPoolAsync, cuMemFreeAsync, each also in its per-thread-default-stream _ptsz
 * flavour). Signatures from NVIDIA's CUDA Driver API reference, "Virtual Memory Management"
 * and "Stream Ordered Memory Allocator". */
#include "hcs.h"
#include "hcs_vendor/cuda.h"

HCS_EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
                                const CUmemAllocationProp *prop, unsigned long long flags) {
    HCS_REAL(cuMemCreate, real, CUDA_ERROR_NOT_INITIALIZED);
    /* Only device-resident physical memory counts; host-located allocations pass through. */
    if (prop == NULL || prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE || !hcs_enter())
        return real(handle, size, prop, flags);
    struct hcs_ticket t;
    CUresult rc = CUDA_ERROR_OUT_OF_MEMORY;
    if (hcs_reserve(&t, prop->location.id, size, "cuMemCreate") == 0) {
        rc = real(handle, size, prop, flags);
        int ok = rc == CUDA_SUCCESS;
        if (hcs_commit(&t, ok, ok ? *handle : 0, HCS_KIND_VMM_HANDLE) != 0) {
            __typeof__(&cuMemRelease) release =
                (__typeof__(&cuMemRelease))hcs_real(HCS_SYM_cuMemRelease);
            if (release != NULL)
                release(*handle);
            rc = CUDA_ERROR_OUT_OF_MEMORY;
        }
    }
    hcs_leave();
    return rc;
}

HCS_EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle handle) {
    HCS_REAL(cuMemRelease, real, CUDA_ERROR_NOT_INITIALIZED);
    if (!hcs_enter())
        return real(handle);
    struct hcs_ticket t;
    hcs_release_begin(handle, HCS_KIND_VMM_HANDLE, &t);
    CUresult rc = real(handle);
    hcs_release_end(&t, rc == CUDA_SUCCESS, handle, HCS_KIND_VMM_HANDLE);
    hcs_leave();
    return rc;
}

typedef CUresult (*alloc_async_fn)(CUdeviceptr *, size_t, CUmemoryPool, CUstream);
typedef CUresult (*free_async_fn)(CUdeviceptr, CUstream);

/* The pool's memory is accounted to the current device when the allocation is made. */
static CUresult alloc_async(enum hcs_sym_id id, CUdeviceptr *dptr, size_t size, int from_pool,
                            CUmemoryPool pool, CUstream stream) {
    void *fn = hcs_real(id);
    if (fn == NULL)
        return CUDA_ERROR_NOT_INITIALIZED;
    alloc_async_fn pooled = (alloc_async_fn)fn;
    CUresult (*plain)(CUdeviceptr *, size_t, CUstream) = fn;
    if (!hcs_enter())
        return from_pool ? pooled(dptr, size, pool, stream) : plain(dptr, size, stream);
    struct hcs_ticket t;
    CUresult rc = CUDA_ERROR_OUT_OF_MEMORY;
    if (hcs_reserve(&t, hcs_current_device(HCS_SYM_cuCtxGetDevice), size, hcs_syms[id].name) == 0) {
        rc = from_pool ? pooled(dptr, size, pool, stream) : plain(dptr, size, stream);
        int ok = rc == CUDA_SUCCESS;
        if (hcs_commit(&t, ok, ok ? *dptr : 0, HCS_KIND_PTR) != 0) {
            free_async_fn release = (free_async_fn)hcs_real(HCS_SYM_cuMemFreeAsync);
            if (release != NULL)
                release(*dptr, stream);
            rc = CUDA_ERROR_OUT_OF_MEMORY;
        }
    }
    hcs_leave();
    return rc;
}

/* Credited when the free is enqueued: the memory returns to the stream's pool for reuse. */
static CUresult free_async(enum hcs_sym_id id, CUdeviceptr dptr, CUstream stream) {
    free_async_fn real = (free_async_fn)hcs_real(id);
    if (real == NULL)
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!hcs_enter())
        return real(dptr, stream);
    struct hcs_ticket t;
    hcs_release_begin(dptr, HCS_KIND_PTR, &t);
    CUresult rc = real(dptr, stream);
    hcs_release_end(&t, rc == CUDA_SUCCESS, dptr, HCS_KIND_PTR);
    hcs_leave();
    return rc;
}

HCS_EXPORT CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t size, CUstream stream) {
    return alloc_async(HCS_SYM_cuMemAllocAsync, dptr, size, 0, NULL, stream);
}

HCS_EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t size, CUstream stream) {
    return alloc_async(HCS_SYM_cuMemAllocAsync_ptsz, dptr, size, 0, NULL, stream);
}

HCS_EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t size, CUmemoryPool pool,
                                            CUstream stream) {
    return alloc_async(HCS_SYM_cuMemAllocFromPoolAsync, dptr, size, 1, pool, stream);
}

HCS_EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t size,
                                                 CUmemoryPool pool, CUstream stream) {
    return alloc_async(HCS_SYM_cuMemAllocFromPoolAsync_ptsz, dptr, size, 1, pool, stream);
}

HCS_EXPORT CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream stream) {
    return free_async(HCS_SYM_cuMemFreeAsync, dptr, stream);
}

HCS_EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream stream) {
    return free_async(HCS_SYM_cuMemFreeAsync_ptsz, dptr, stream);
}
