/* Initialisation on first use, the recursion guard, fork handling and stderr messages.
 *
 * Nothing runs in a constructor: the configuration is read from the environment on the first
 * intercepted call (so a program may still set its quota before it touches a device), under
 * pthread_once. A thread-local depth counter makes a wrapper that is re-entered from inside
 * the vendor library (hipMallocManaged calling hipMalloc, say) pass straight through, so one
 * allocation is counted once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hcs.h"

extern char **environ;

static struct hcs_config config;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static __thread int depth __attribute__((tls_model("initial-exec")));

void hcs_log(const char *fmt, ...) {
    int saved = errno;
    char line[512] = "hcs-interceptor: ";
    size_t head = strlen(line);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + head, sizeof line - head - 1, fmt, ap);
    va_end(ap);
    size_t len = head + (n < 0 ? 0 : (size_t)n);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, len);
    (void)ignored;
    errno = saved;
}

void hcs_log_once(int *done, const char *fmt, ...) {
    if (__atomic_exchange_n(done, 1, __ATOMIC_ACQ_REL))
        return;
    char text[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    hcs_log("%s", text);
}

static void before_fork(void) { hcs_ptrmap_lock_for_fork(); }
static void after_fork_parent(void) { hcs_ptrmap_unlock_after_fork(0); }
static void after_fork_child(void) {
    hcs_ptrmap_unlock_after_fork(1);
    hcs_region_after_fork_child();
    depth = 0;
}

static void init(void) {
    int saved = errno;
    hcs_config_load(&config, environ);
    if (config.active && config.invalid)
        hcs_log("%s: every device allocation is refused until it is fixed (fail closed)",
                config.problem);
    if (config.active) {
        int rc = pthread_atfork(before_fork, after_fork_parent, after_fork_child);
        if (rc != 0)
            hcs_log("pthread_atfork: %s; a forked child would be accounted as its parent",
                    strerror(rc));
    }
    errno = saved;
}

const struct hcs_config *hcs_config(void) {
    pthread_once(&once, init);
    return &config;
}

int hcs_enter(void) {
    if (!hcs_config()->active || depth > 0)
        return 0;
    depth = 1;
    return 1;
}

void hcs_leave(void) { depth = 0; }
