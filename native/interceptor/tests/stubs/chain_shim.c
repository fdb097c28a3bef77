/* libchain_shim.so: a second preloaded interposer that finds "the next hcs_chain after me"
 * with dlsym(RTLD_NEXT). Through the interceptor's dlsym this must still be libchain_base. */
#include <dlfcn.h>

int hcs_chain(void);
int hcs_chain(void) {
    int (*next)(void) = (int (*)(void))dlsym(RTLD_NEXT, "hcs_chain");
    return next == hcs_chain || next == 0 ? -1 : next() + 1;
}
