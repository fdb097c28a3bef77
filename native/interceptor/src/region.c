/* The shared-memory region: one per container (HCS_SHM_PATH), shared by all its processes.
 *
 * Layout: a header with a process-shared robust mutex, then HCS_SLOTS slots, each holding a
 * process's PID, its start time (to tell a reused PID apart) and the bytes it holds or has
 * reserved per device. Every change happens under the mutex and is a single store to one
 * slot, so a process killed at any point (even holding the lock: EOWNERDEAD) leaves the region
 * consistent. The slots are the source of truth: a dead process's slot is returned with
 * whatever it held or had reserved. The file is created and initialised under flock(), which
 * the kernel releases if the creator dies half-way.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hcs.h"

#define MAGIC 0x48435356524d3031ULL /* "HCSVRM01" */
#define LAYOUT 1

struct slot {
    int32_t pid; /* 0: free */
    int32_t unused;
    uint64_t start_time; /* /proc/<pid>/stat field 22; 0 when unknown */
    uint64_t used[HCS_MAX_DEVICES];
};

struct region {
    uint64_t magic;
    uint32_t layout, slots, devices, size;
    pthread_mutex_t lock;
    uint32_t high; /* slots at and above this index have never been claimed */
    uint32_t unused;
    struct slot slot[HCS_SLOTS];
};

static struct region *shared;
static int my_slot = -1;
static int32_t my_pid;
static uint64_t my_start;
static int proc_usable = -1; /* /proc shows our own PID namespace */

/* /proc may belong to another PID namespace (a sandbox that did not remount it): then PIDs
 * there are not ours, and only kill(pid, 0) can be trusted. */
static int proc_is_ours(void) {
    char buf[32] = "";
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return atoi(buf) == (int)getpid();
}

/* -1: `pid` is gone; 0: found, *state and *start filled; 1: alive as far as we can tell. */
static int proc_stat(int32_t pid, char *state, uint64_t *start) {
    char path[48], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (proc_usable < 0)
        proc_usable = proc_is_ours();
    int fd = proc_usable ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0) {
        if (proc_usable && errno == ENOENT)
            return -1;
        return (kill(pid, 0) == -1 && errno == ESRCH) ? -1 : 1; /* no /proc: ask the kernel */
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1; /* it exited between open and read */
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    if (p == NULL || p[1] != ' ')
        return 1;
    *state = p[2];
    p = strchr(p, ' ');
    for (int field = 3; field < 22 && p != NULL; field++)
        p = strchr(p + 1, ' ');
    *start = (p != NULL) ? strtoull(p + 1, NULL, 10) : 0;
    return 0;
}

static int slot_is_dead(const struct slot *s) {
    char state = '?';
    uint64_t start = 0;
    int r = proc_stat(s->pid, &state, &start);
    if (r < 0)
        return 1;
    if (r > 0)
        return 0;
    /* A zombie holds no device memory any more; a different start time means a reused PID. */
    return state == 'Z' || state == 'X' || (s->start_time != 0 && start != s->start_time);
}

static void clear_slot(struct slot *s) {
    memset(s->used, 0, sizeof s->used);
    s->start_time = 0;
    __atomic_store_n(&s->pid, 0, __ATOMIC_RELEASE);
}

static int init_header(struct region *r, char *why, size_t len) {
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    int rc = pthread_mutex_init(&r->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    if (rc != 0)
        return snprintf(why, len, "pthread_mutex_init: %s", strerror(rc)), -1;
    r->layout = LAYOUT;
    r->slots = HCS_SLOTS;
    r->devices = HCS_MAX_DEVICES;
    r->size = sizeof *r;
    __atomic_store_n(&r->magic, MAGIC, __ATOMIC_RELEASE);
    return 0;
}

/* Maps and checks (or initialises) the region; the caller holds flock on fd. */
static int map_region(int fd, char *why, size_t len) {
    struct stat st;
    if (fstat(fd, &st) != 0)
        return snprintf(why, len, "fstat: %s", strerror(errno)), -1;
    if (st.st_size == 0 && ftruncate(fd, sizeof(struct region)) != 0)
        return snprintf(why, len, "ftruncate: %s", strerror(errno)), -1;
    if (st.st_size != 0 && st.st_size != (off_t)sizeof(struct region))
        return snprintf(why, len, "size %lld, expected %zu (another interceptor version?)",
                        (long long)st.st_size, sizeof(struct region)), -1;
    void *m = mmap(NULL, sizeof(struct region), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        return snprintf(why, len, "mmap: %s", strerror(errno)), -1;
    struct region *r = m;
    uint64_t magic = __atomic_load_n(&r->magic, __ATOMIC_ACQUIRE);
    if (magic == 0 && init_header(r, why, len) != 0)
        return munmap(m, sizeof *r), -1;
    if (magic != 0 && (magic != MAGIC || r->layout != LAYOUT || r->size != sizeof *r))
        return munmap(m, sizeof *r), snprintf(why, len, "unknown layout (another version?)"), -1;
    shared = r;
    return 0;
}

int hcs_region_attach(const char *path, char *why, size_t len) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0)
        return snprintf(why, len, "open: %s", strerror(errno)), -1;
    (void)fchmod(fd, 0666); /* every user of the container shares it, whatever the umask */
    int rc = -1;
    if (flock(fd, LOCK_EX) != 0)
        snprintf(why, len, "flock: %s", strerror(errno));
    else
        rc = map_region(fd, why, len);
    /* Unlock explicitly: the mapping keeps the open file alive, and with it the flock. */
    (void)flock(fd, LOCK_UN);
    close(fd);
    return rc;
}

int hcs_region_lock(void) {
    int rc = pthread_mutex_lock(&shared->lock);
    if (rc == EOWNERDEAD) {
        /* The holder died inside a critical section; every update is one store, so the data
         * is consistent: mark the mutex usable again. */
        rc = pthread_mutex_consistent(&shared->lock);
    }
    return rc == 0 ? 0 : -1;
}

void hcs_region_unlock(void) { pthread_mutex_unlock(&shared->lock); }

static int claim_slot(void) {
    if (my_pid == 0) {
        char state;
        my_pid = getpid();
        if (proc_stat(my_pid, &state, &my_start) != 0)
            my_start = 0;
    }
    int chosen = -1;
    for (int i = 0; i < (int)shared->high; i++) {
        struct slot *s = &shared->slot[i];
        if (s->pid == my_pid) /* left by an earlier program of this PID (exec) */
            clear_slot(s);
        if (s->pid != 0 && slot_is_dead(s))
            clear_slot(s);
        if (s->pid == 0 && chosen < 0)
            chosen = i;
    }
    if (chosen < 0 && shared->high < HCS_SLOTS)
        chosen = (int)shared->high;
    if (chosen >= 0) {
        if (chosen >= (int)shared->high)
            shared->high = (uint32_t)chosen + 1;
        shared->slot[chosen].start_time = my_start;
        __atomic_store_n(&shared->slot[chosen].pid, my_pid, __ATOMIC_RELEASE);
    }
    return chosen;
}

int hcs_region_my_slot(void) {
    if (my_slot >= 0 && shared->slot[my_slot].pid == my_pid)
        return my_slot;
    my_slot = claim_slot();
    return my_slot;
}

uint64_t hcs_region_used(int dev, int reclaim) {
    uint64_t total = 0;
    for (int i = 0; i < (int)shared->high; i++) {
        struct slot *s = &shared->slot[i];
        if (s->pid == 0)
            continue;
        /* A slot of our own PID that is not ours was left by the program before exec(). */
        int stale = s->pid == (my_pid ? my_pid : getpid()) && i != my_slot;
        if (reclaim && i != my_slot && (stale || slot_is_dead(s))) {
            clear_slot(s);
            continue;
        }
        total += s->used[dev];
    }
    return total;
}

void hcs_region_add(int slot, int dev, uint64_t bytes) { shared->slot[slot].used[dev] += bytes; }

void hcs_region_sub(int slot, int dev, uint64_t bytes) {
    uint64_t *used = &shared->slot[slot].used[dev];
    *used = (*used > bytes) ? *used - bytes : 0;
}

/* The child of fork() holds none of its parent's allocations: it claims its own slot. */
void hcs_region_after_fork_child(void) {
    my_slot = -1;
    my_pid = 0;
}
