/* cuGetProcAddress / cuGetProcAddress_v2: how CUDA 12 and 13 runtimes (and PyTorch, through
 * cudaGetDriverEntryPoint) reach the driver. The real driver answers first; when the answer
 * is an allocation or memory-info entry point of the hook table, the caller gets our wrapper
 * and the wrapper remembers the driver's pointer as its real function. Everything else, and
 * every failed lookup, is returned untouched.
 * Signatures and flags from NVIDIA's CUDA Driver API reference, "Driver Entry Point Access". */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hcs.h"
#include "hcs_vendor/cuda.h"

/* Requests for cudaVersion below this are known to be answered with the table's variants
 * (CUDA 13.x and older). For a newer request, a wrapper is returned only when the driver's
 * answer is the very function the table names, so that a future _v3 with another signature
 * is never wrapped by a _v2 wrapper. */
#define HCS_KNOWN_CUDA 14000

static int unknown_told;

/* Stream-ordered entry points come in two flavours (legacy and per-thread default stream,
 * "_ptsz"). The driver's answer says which one it is; the request's flags decide only when
 * the answer is neither exported function. */
static int flavour_matches(const struct hcs_sym *s, void *fn, cuuint64_t flags) {
    if (s->stream == HCS_ANY)
        return 1;
    char other[64];
    size_t len = strlen(s->name);
    if (s->stream == HCS_LEGACY)
        snprintf(other, sizeof other, "%s_ptsz", s->name);
    else
        snprintf(other, sizeof other, "%.*s", (int)(len - 5), s->name);
    if (fn == hcs_vendor_sym(s->lib, s->name))
        return 1;
    if (fn == hcs_vendor_sym(s->lib, other))
        return 0;
    int ptds = (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0;
    return (s->stream == HCS_PTDS) == ptds;
}

static void *wrap(const char *symbol, void *fn, int version, cuuint64_t flags) {
    if (fn == NULL || symbol == NULL || !hcs_config()->active)
        return fn;
    int saved = errno;
    hcs_note_vendor_fn(HCS_LIB_CUDA, fn);
    void *answer = fn;
    for (int id = 0; id < HCS_SYM_COUNT; id++) {
        const struct hcs_sym *s = &hcs_syms[id];
        if (s->proc == NULL || strcmp(s->proc, symbol) != 0 || version < s->vmin ||
            version >= s->vmax || !flavour_matches(s, fn, flags))
            continue;
        if (version >= HCS_KNOWN_CUDA && fn != hcs_vendor_sym(s->lib, s->name)) {
            hcs_log_once(&unknown_told, "cuGetProcAddress(%s, version %d) returned a variant "
                         "this interceptor does not know: passed through unenforced",
                         symbol, version);
            break;
        }
        hcs_offer_real((enum hcs_sym_id)id, fn);
        answer = s->wrapper;
        break;
    }
    errno = saved;
    return answer;
}

HCS_EXPORT CUresult cuGetProcAddress(const char *symbol, void **pfn, int version,
                                     cuuint64_t flags) {
    HCS_REAL(cuGetProcAddress, real, CUDA_ERROR_NOT_INITIALIZED);
    CUresult rc = real(symbol, pfn, version, flags);
    if (rc == CUDA_SUCCESS && pfn != NULL)
        *pfn = wrap(symbol, *pfn, version, flags);
    return rc;
}

HCS_EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int version,
                                        cuuint64_t flags,
                                        CUdriverProcAddressQueryResult *symbol_status) {
    HCS_REAL(cuGetProcAddress_v2, real, CUDA_ERROR_NOT_INITIALIZED);
    CUresult rc = real(symbol, pfn, version, flags, symbol_status);
    if (rc == CUDA_SUCCESS && pfn != NULL)
        *pfn = wrap(symbol, *pfn, version, flags);
    return rc;
}
