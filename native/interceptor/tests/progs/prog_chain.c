/* prog_chain: prints hcs_chain(), which a preloaded shim resolves with dlsym(RTLD_NEXT). */
#include <stdio.h>

int hcs_chain(void);

int main(void) {
    printf("chain=%d\n", hcs_chain());
    return 0;
}
