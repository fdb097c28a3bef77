/* CUDA driver API: classic allocations, frees and memory info.
 * Signatures from NVIDIA's CUDA Driver API reference, "Memory Management". */
#include "hcs.h"
#include "hcs_vendor/cuda.h"

static int cuda_device(void) { return hcs_current_device(HCS_SYM_cuCtxGetDevice); }

/* After a real allocation: records it, or frees it again when it cannot be recorded. */
static CUresult finish(struct hcs_ticket *t, CUresult rc, CUdeviceptr *dptr) {
    int ok = rc == CUDA_SUCCESS;
    if (hcs_commit(t, ok, ok ? (uint64_t)*dptr : 0, HCS_KIND_PTR) == 0)
        return rc;
    __typeof__(&cuMemFree_v2) release = (__typeof__(&cuMemFree_v2))hcs_real(HCS_SYM_cuMemFree_v2);
    if (release != NULL)
        release(*dptr);
    return CUDA_ERROR_OUT_OF_MEMORY;
}

HCS_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize) {
    HCS_REAL(cuMemAlloc_v2, real, CUDA_ERROR_NOT_INITIALIZED);
    if (!hcs_enter())
        return real(dptr, bytesize);
    struct hcs_ticket t;
    CUresult rc = CUDA_ERROR_OUT_OF_MEMORY;
    if (hcs_reserve(&t, cuda_device(), bytesize, "cuMemAlloc_v2") == 0)
        rc = finish(&t, real(dptr, bytesize), dptr);
    hcs_leave();
    return rc;
}

HCS_EXPORT CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags) {
    HCS_REAL(cuMemAllocManaged, real, CUDA_ERROR_NOT_INITIALIZED);
    if (!hcs_enter())
        return real(dptr, bytesize, flags);
    struct hcs_ticket t;
    CUresult rc = CUDA_ERROR_OUT_OF_MEMORY;
    if (hcs_reserve(&t, cuda_device(), bytesize, "cuMemAllocManaged") == 0)
        rc = finish(&t, real(dptr, bytesize, flags), dptr);
    hcs_leave();
    return rc;
}

/* The pitch is only known after the call: reserve width x height, then grow to pitch x height
 * (refusing, and freeing, if the padding does not fit). */
HCS_EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pitch, size_t width,
                                       size_t height, unsigned int element_size) {
    HCS_REAL(cuMemAllocPitch_v2, real, CUDA_ERROR_NOT_INITIALIZED);
    if (!hcs_enter())
        return real(dptr, pitch, width, height, element_size);
    struct hcs_ticket t;
    CUresult rc = CUDA_ERROR_OUT_OF_MEMORY;
    uint64_t want = (uint64_t)width * height;
    if (height != 0 && want / height != width)
        want = UINT64_MAX;
    if (hcs_reserve(&t, cuda_device(), want, "cuMemAllocPitch_v2") == 0) {
        rc = real(dptr, pitch, width, height, element_size);
        if (rc == CUDA_SUCCESS && hcs_grow(&t, (uint64_t)*pitch * height, "cuMemAllocPitch_v2")) {
            hcs_commit(&t, 0, 0, HCS_KIND_PTR);
            __typeof__(&cuMemFree_v2) release =
                (__typeof__(&cuMemFree_v2))hcs_real(HCS_SYM_cuMemFree_v2);
            if (release != NULL)
                release(*dptr);
            rc = CUDA_ERROR_OUT_OF_MEMORY;
        } else {
            rc = finish(&t, rc, dptr);
        }
    }
    hcs_leave();
    return rc;
}

HCS_EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr) {
    HCS_REAL(cuMemFree_v2, real, CUDA_ERROR_NOT_INITIALIZED);
    if (!hcs_enter())
        return real(dptr);
    struct hcs_ticket t;
    hcs_release_begin(dptr, HCS_KIND_PTR, &t);
    CUresult rc = real(dptr);
    hcs_release_end(&t, rc == CUDA_SUCCESS, dptr, HCS_KIND_PTR);
    hcs_leave();
    return rc;
}

HCS_EXPORT CUresult cuMemGetInfo_v2(size_t *free, size_t *total) {
    HCS_REAL(cuMemGetInfo_v2, real, CUDA_ERROR_NOT_INITIALIZED);
    if (!hcs_enter())
        return real(free, total);
    CUresult rc = real(free, total);
    if (rc == CUDA_SUCCESS && free != NULL && total != NULL) {
        uint64_t f = *free, t = *total;
        hcs_virtual_info(cuda_device(), &f, &t);
        *free = (size_t)f;
        *total = (size_t)t;
    }
    hcs_leave();
    return rc;
}
