/* The interceptor quota race (interceptor_race.py), both sides of libhcs_interceptor.so:
 *
 * -DRACE_DRIVER: a stub libcuda.so.1 that keeps its own books. Every process's live device
 *   bytes are recorded in a shared ledger (HCS_RACE_LEDGER), under the ledger's own robust
 *   lock, independently of the interceptor's region. At every grant the driver sums the live
 *   bytes of live processes, as a real driver's memory holds them (a dead or zombie process's
 *   memory is gone with it), and counts each time the sum is over HCS_RACE_QUOTA. With
 *   HCS_RACE_PAUSE_AT=k the process's k-th allocation prints "paused" and sleeps inside the
 *   driver, before or after the grant (HCS_RACE_PAUSE_WHEN), for the supervisor's SIGKILL.
 *
 * otherwise: the program. `init LEDGER QUOTA` creates the ledger; `work LANE COUNT SEED` makes
 *   COUNT allocations of random sizes with frees interleaved, through dlsym (even lanes) or
 *   cuGetProcAddress_v2 (odd lanes), as CUDA runtimes reach the driver, and leaves some live
 *   at exit; `fill` allocates 1 MiB until refused and prints how many; `info` prints
 *   cuMemGetInfo; `report LEDGER` prints the ledger's counters.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "hcs_vendor/cuda.h"

#define LEDGER_MAGIC 0x4843535241434531ULL /* "HCSRACE1" */
#define LEDGER_SLOTS 256
#define LANES 64

struct ledger_slot {
    int32_t pid; /* 0: free */
    int32_t unused;
    uint64_t start; /* /proc/<pid>/stat field 22, to tell a reused PID apart */
    uint64_t bytes; /* live device bytes the driver granted this process */
};

struct ledger {
    uint64_t magic, quota;
    uint64_t grants, frees, violations, worst_excess, max_live;
    uint64_t attempts[LANES], granted[LANES], refused[LANES]; /* written by the programs */
    pthread_mutex_t lock;
    struct ledger_slot slot[LEDGER_SLOTS];
};

static struct ledger *map_ledger(const char *path, int create) {
    int fd = open(path, O_RDWR | (create ? O_CREAT | O_EXCL : 0) | O_CLOEXEC, 0600);
    if (fd < 0)
        return NULL;
    if (create && ftruncate(fd, sizeof(struct ledger)) != 0)
        return close(fd), NULL;
    void *m = mmap(NULL, sizeof(struct ledger), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    return m == MAP_FAILED ? NULL : m;
}

#ifdef RACE_DRIVER
/* ------------------------------------------------------------------ the stub driver */

static struct ledger *book;
static pthread_once_t book_once = PTHREAD_ONCE_INIT;
static uint64_t my_start;
static long allocs_seen; /* this process's calls of cuMemAlloc_v2, for HCS_RACE_PAUSE_AT */

static void open_book(void) {
    const char *path = getenv("HCS_RACE_LEDGER");
    book = path ? map_ledger(path, 0) : NULL;
    if (book == NULL || book->magic != LEDGER_MAGIC) {
        fprintf(stderr, "race driver: no ledger at HCS_RACE_LEDGER=%s\n", path ? path : "");
        abort();
    }
}

/* 1 when `pid` (started at `start`) is gone: no /proc entry, a zombie, or another process. */
static int gone(int32_t pid, uint64_t start, uint64_t *start_out) {
    char path[48], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 1;
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    if (p == NULL || p[1] != ' ')
        return 0;
    char state = p[2];
    for (int field = 3; field <= 22 && p != NULL; field++)
        p = strchr(p + 1, ' ');
    uint64_t started = p ? strtoull(p + 1, NULL, 10) : 0;
    if (start_out)
        *start_out = started;
    return state == 'Z' || state == 'X' || (start != 0 && started != start);
}

static void lock_book(void) {
    if (pthread_mutex_lock(&book->lock) == EOWNERDEAD) /* its holder was killed: one-store */
        pthread_mutex_consistent(&book->lock);       /* updates keep the ledger whole */
}

/* Under the lock: this process's slot, claimed (over a free or dead one) on first use. */
static struct ledger_slot *my_slot(void) {
    static int mine = -1;
    int32_t pid = getpid();
    if (mine >= 0 && book->slot[mine].pid == pid && book->slot[mine].start == my_start)
        return &book->slot[mine];
    gone(pid, 0, &my_start);
    for (mine = 0; mine < LEDGER_SLOTS; mine++) {
        struct ledger_slot *s = &book->slot[mine];
        if (s->pid == 0 || gone(s->pid, s->start, NULL)) {
            *s = (struct ledger_slot){.pid = pid, .start = my_start, .bytes = 0};
            return s;
        }
    }
    abort(); /* more live processes than slots: not this benchmark */
}

/* Under the lock: the live bytes of every process still alive (`reap`: first forget the
 * dead, whose memory a real driver has released with their context). */
static uint64_t live_bytes(int reap) {
    uint64_t total = 0;
    for (int i = 0; i < LEDGER_SLOTS; i++) {
        struct ledger_slot *s = &book->slot[i];
        if (s->pid != 0 && reap && s->pid != getpid() && gone(s->pid, s->start, NULL))
            s->pid = 0, s->bytes = 0;
        total += s->pid ? s->bytes : 0;
    }
    return total;
}

static void record_grant(uint64_t bytes) {
    lock_book();
    struct ledger_slot *mine = my_slot();
    mine->bytes += bytes;
    book->grants++;
    uint64_t live = live_bytes(0);
    if (live > book->quota)
        live = live_bytes(1); /* only the living count: check again without the dead */
    if (live > book->quota) {
        book->violations++;
        if (live - book->quota > book->worst_excess)
            book->worst_excess = live - book->quota;
    }
    if (live > book->max_live)
        book->max_live = live;
    pthread_mutex_unlock(&book->lock);
}

static void record_free(uint64_t bytes) {
    lock_book();
    struct ledger_slot *mine = my_slot();
    mine->bytes = mine->bytes > bytes ? mine->bytes - bytes : 0;
    book->frees++;
    pthread_mutex_unlock(&book->lock);
}

/* The supervisor's cue to kill this process in the middle of the allocation. */
static void maybe_pause(const char *when) {
    const char *at = getenv("HCS_RACE_PAUSE_AT"), *w = getenv("HCS_RACE_PAUSE_WHEN");
    if (at == NULL || atol(at) != allocs_seen || strcmp(w ? w : "before", when) != 0)
        return;
    (void)!write(STDOUT_FILENO, "paused\n", 7);
    sleep(60);
}

/* A real cuMemAlloc takes microseconds; so does this one, so that processes really overlap
 * between the interceptor's reservation and its commit. */
static void driver_work(void) {
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do
        clock_gettime(CLOCK_MONOTONIC, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 2000);
}

struct block {
    uint64_t magic, bytes;
};

static CUresult impl_cuInit(unsigned int flags) { return flags == 0 ? 0 : 1; }

static CUresult impl_cuCtxGetDevice(CUdevice *device) {
    *device = 0;
    return 0;
}

static CUresult impl_cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytes) {
    pthread_once(&book_once, open_book);
    if (dptr == NULL || bytes == 0)
        return 1; /* CUDA_ERROR_INVALID_VALUE */
    allocs_seen++;
    maybe_pause("before");
    driver_work();
    struct block *b = malloc(sizeof *b);
    if (b == NULL)
        return 2; /* CUDA_ERROR_OUT_OF_MEMORY */
    *b = (struct block){0x5eedb10cULL, bytes};
    record_grant(bytes);
    *dptr = (CUdeviceptr)(uintptr_t)b;
    maybe_pause("after");
    return 0;
}

static CUresult impl_cuMemFree_v2(CUdeviceptr dptr) {
    pthread_once(&book_once, open_book);
    struct block *b = (struct block *)(uintptr_t)dptr;
    if (b == NULL || b->magic != 0x5eedb10cULL)
        return 1;
    b->magic = 0;
    record_free(b->bytes);
    free(b);
    return 0;
}

static CUresult impl_cuMemGetInfo_v2(size_t *free_bytes, size_t *total) {
    pthread_once(&book_once, open_book);
    lock_book();
    uint64_t live = live_bytes(1);
    pthread_mutex_unlock(&book->lock);
    *total = (size_t)1 << 40;
    *free_bytes = *total - live;
    return 0;
}

static CUresult impl_cuGetProcAddress_v2(const char *, void **, int, cuuint64_t,
                                         CUdriverProcAddressQueryResult *);

/* The library's own addresses (static functions exported by alias), as the real driver's
 * table holds: under LD_PRELOAD, &cuMemAlloc_v2 here would be the interceptor's wrapper. */
static const struct {
    const char *name;
    void *fn;
} PROCS[] = {
    {"cuInit", (void *)impl_cuInit},
    {"cuCtxGetDevice", (void *)impl_cuCtxGetDevice},
    {"cuMemAlloc", (void *)impl_cuMemAlloc_v2},
    {"cuMemFree", (void *)impl_cuMemFree_v2},
    {"cuMemGetInfo", (void *)impl_cuMemGetInfo_v2},
    {"cuGetProcAddress", (void *)impl_cuGetProcAddress_v2},
};

static CUresult impl_cuGetProcAddress_v2(const char *symbol, void **pfn, int version,
                                         cuuint64_t flags,
                                         CUdriverProcAddressQueryResult *status) {
    (void)version, (void)flags;
    for (size_t i = 0; i < sizeof PROCS / sizeof PROCS[0]; i++) {
        if (strcmp(PROCS[i].name, symbol) == 0) {
            *pfn = PROCS[i].fn;
            if (status)
                *status = CU_GET_PROC_ADDRESS_SUCCESS;
            return 0;
        }
    }
    *pfn = NULL;
    if (status)
        *status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    return 500; /* CUDA_ERROR_NOT_FOUND */
}

#define EXPORT(name) __typeof__(impl_##name) name __attribute__((alias("impl_" #name)));
EXPORT(cuInit)
EXPORT(cuCtxGetDevice)
EXPORT(cuMemAlloc_v2)
EXPORT(cuMemFree_v2)
EXPORT(cuMemGetInfo_v2)
EXPORT(cuGetProcAddress_v2)

#else
/* ------------------------------------------------------------------ the program */

typedef CUresult (*alloc_fn)(CUdeviceptr *, size_t);
typedef CUresult (*free_fn)(CUdeviceptr);
typedef CUresult (*info_fn)(size_t *, size_t *);
typedef CUresult (*getproc_fn)(const char *, void **, int, cuuint64_t,
                               CUdriverProcAddressQueryResult *);

static struct {
    alloc_fn alloc;
    free_fn release;
    info_fn info;
} cu;

/* The driver's entry points as CUDA runtimes find them: dlsym, or cuGetProcAddress_v2. */
static void load(int through_getproc) {
    void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL)
        fprintf(stderr, "dlopen libcuda.so.1: %s\n", dlerror()), exit(2);
    ((CUresult(*)(unsigned))dlsym(lib, "cuInit"))(0);
    if (!through_getproc) {
        cu.alloc = (alloc_fn)dlsym(lib, "cuMemAlloc_v2");
        cu.release = (free_fn)dlsym(lib, "cuMemFree_v2");
        cu.info = (info_fn)dlsym(lib, "cuMemGetInfo_v2");
        return;
    }
    getproc_fn getproc = (getproc_fn)dlsym(lib, "cuGetProcAddress_v2");
    getproc("cuMemAlloc", (void **)&cu.alloc, 12000, 0, NULL);
    getproc("cuMemFree", (void **)&cu.release, 12000, 0, NULL);
    getproc("cuMemGetInfo", (void **)&cu.info, 12000, 0, NULL);
}

static uint64_t rng_state;

static uint64_t next_random(void) { /* xorshift64*: fast, and repeatable from the seed */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

/* Log-uniform from 4 KiB to 16 MiB: many small allocations, a few big ones, as a framework's
 * caching allocator asks. */
static size_t random_size(void) {
    unsigned shift = 12 + (unsigned)(next_random() % 12);
    return ((size_t)1 << shift) + (size_t)(next_random() % ((size_t)1 << shift));
}

#define MAX_LIVE 16

static int work(struct ledger *book, int lane, long count, uint64_t seed) {
    rng_state = seed * 0x9E3779B97F4A7C15ULL + (uint64_t)lane + 1;
    CUdeviceptr live[MAX_LIVE];
    int n = 0;
    for (long i = 0; i < count; i++) {
        if (n > 0 && (n == MAX_LIVE || next_random() % 100 < 45)) {
            int k = (int)(next_random() % (uint64_t)n);
            if (cu.release(live[k]) != 0)
                return fprintf(stderr, "free failed\n"), 3;
            live[k] = live[--n];
        }
        CUdeviceptr p = 0;
        CUresult rc = cu.alloc(&p, random_size());
        __atomic_add_fetch(&book->attempts[lane], 1, __ATOMIC_RELAXED);
        if (rc == 0) {
            live[n++] = p;
            __atomic_add_fetch(&book->granted[lane], 1, __ATOMIC_RELAXED);
        } else if (rc == 2) {
            __atomic_add_fetch(&book->refused[lane], 1, __ATOMIC_RELAXED);
        } else {
            return fprintf(stderr, "cuMemAlloc: unexpected %d\n", rc), 3;
        }
    }
    /* Half the programs exit holding memory: the driver frees it, the quota must follow. */
    while (n > 0 && next_random() % 2)
        cu.release(live[--n]);
    printf("done\n");
    return 0;
}

static int fill(void) {
    CUdeviceptr p;
    long count = 0;
    while (cu.alloc(&p, 1 << 20) == 0)
        count++;
    printf("filled=%ld\n", count);
    return 0;
}

static int init(const char *path, const char *quota) {
    struct ledger *b = map_ledger(path, 1);
    if (b == NULL)
        return perror(path), 2;
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&b->lock, &attr);
    b->quota = strtoull(quota, NULL, 10);
    b->magic = LEDGER_MAGIC;
    return 0;
}

static int report(struct ledger *b) {
    printf("grants=%llu frees=%llu violations=%llu worst_excess=%llu max_live=%llu",
           (unsigned long long)b->grants, (unsigned long long)b->frees,
           (unsigned long long)b->violations, (unsigned long long)b->worst_excess,
           (unsigned long long)b->max_live);
    for (int lane = 0; lane < LANES; lane++)
        if (b->attempts[lane])
            printf(" lane%d=%llu/%llu/%llu", lane, (unsigned long long)b->attempts[lane],
                   (unsigned long long)b->granted[lane], (unsigned long long)b->refused[lane]);
    printf("\n");
    return 0;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "init") == 0 && argc == 4)
        return init(argv[2], argv[3]);
    if (strcmp(mode, "report") == 0 && argc == 3) {
        struct ledger *b = map_ledger(argv[2], 0);
        return b ? report(b) : (perror(argv[2]), 2);
    }
    if (strcmp(mode, "work") == 0 && argc == 5) {
        struct ledger *b = map_ledger(getenv("HCS_RACE_LEDGER"), 0);
        int lane = atoi(argv[2]);
        if (b == NULL || lane < 0 || lane >= LANES)
            return fprintf(stderr, "no ledger, or lane out of range\n"), 2;
        setvbuf(stdout, NULL, _IONBF, 0);
        load(lane % 2);
        return work(b, lane, atol(argv[3]), strtoull(argv[4], NULL, 10));
    }
    if (strcmp(mode, "fill") == 0 || strcmp(mode, "info") == 0) {
        load(0);
        if (mode[0] == 'f')
            return fill();
        size_t free_bytes = 0, total = 0;
        cu.info(&free_bytes, &total);
        printf("free=%zu total=%zu\n", free_bytes, total);
        return 0;
    }
    fprintf(stderr, "usage: %s init LEDGER QUOTA | work LANE COUNT SEED | fill | info | "
                    "report LEDGER\n", argv[0]);
    return 2;
}
#endif
