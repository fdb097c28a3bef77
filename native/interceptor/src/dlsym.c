/* dlsym interposition: a program or runtime that looks an allocation entry point up by name
 * (libcudart dlopen()s libcuda.so.1 and asks for cuGetProcAddress_v2; Python's ctypes; a
 * framework's loader) gets our wrapper, whose real function is what glibc found for it.
 * Every other lookup goes to glibc untouched.
 */
#include <dlfcn.h>

#include "hcs.h"

/* Kept out of line so that dlsym() itself stays a plain tail call. */
static __attribute__((noinline)) void *hooked_lookup(hcs_dlsym_fn glibc, void *handle,
                                                     const char *name, int id) {
    void *fn = glibc(handle, name);
    if (fn == NULL)
        return NULL; /* the library has no such symbol: the caller sees glibc's answer */
    hcs_offer_real((enum hcs_sym_id)id, fn);
    return hcs_syms[id].wrapper;
}

HCS_EXPORT void *dlsym(void *handle, const char *name) {
    hcs_dlsym_fn glibc = hcs_real_dlsym();
    int id = hcs_hook_by_name(name);
    if (id >= 0 && hcs_config()->active)
        return hooked_lookup(glibc, handle, name, id);
    /* A tail call (jmp), so glibc reads our caller's return address: dlsym(RTLD_NEXT, ...)
     * keeps meaning "after the caller", not "after the interceptor". The build uses -O2 and
     * tests/test_safety.py checks the behaviour. */
    return glibc(handle, name);
}
