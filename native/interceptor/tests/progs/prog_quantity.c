/* prog_quantity: the interceptor's quantity parser and configuration loader, linked from
 * src/quota.c, for table-driven tests (tests/test_quota.py).
 *   prog_quantity TEXT...          one line per TEXT: "ok BYTES" or "error REASON"
 *   prog_quantity --env KEY=VALUE...   the configuration those variables give
 */
#include <stdio.h>
#include <string.h>

#include "hcs.h"

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--env") == 0) {
        struct hcs_config c;
        hcs_config_load(&c, argv + 2); /* argv is NULL-terminated like environ */
        printf("active=%d invalid=%d\n", c.active, c.invalid);
        if (c.invalid)
            printf("problem=%s\n", c.problem);
        for (int dev = 0; dev < HCS_MAX_DEVICES; dev++)
            if (c.limited[dev])
                printf("quota %d %llu %s\n", dev, (unsigned long long)c.quota[dev], c.source[dev]);
        printf("shm=%s\n", c.shm_path);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        uint64_t bytes = 0;
        const char *why = NULL;
        if (hcs_parse_quantity(argv[i], &bytes, &why) == 0)
            printf("ok %llu\n", (unsigned long long)bytes);
        else
            printf("error %s\n", why);
    }
    return 0;
}
