/* prog_lock_and_die PATH: attaches to the accounting region (src/region.c, linked in), takes
 * its lock and exits without releasing it, as a process killed inside the critical section
 * would. The next process must get the lock back (EOWNERDEAD) and carry on. */
#include <stdio.h>
#include <unistd.h>

#include "hcs.h"

int main(int argc, char **argv) {
    char why[200];
    if (argc != 2 || hcs_region_attach(argv[1], why, sizeof why) != 0 || hcs_region_lock() != 0) {
        printf("cannot lock: %s\n", argc == 2 ? why : "usage: prog_lock_and_die PATH");
        return 2;
    }
    printf("locked\n");
    fflush(stdout);
    _exit(0);
}
