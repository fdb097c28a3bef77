/* probe_cuda: drives the CUDA driver API through a chosen lookup path, one step per argument,
 * printing one line per step for tests/test_cuda.py and friends.
 *
 *   path=direct            functions as linked (only in probe_cuda_linked)
 *   path=dlsym             dlsym() on dlopen("libcuda.so.1", RTLD_LOCAL), as libcudart does
 *   path=default           dlsym(RTLD_DEFAULT)
 *   path=proc:VER[:v1][:ptds]  cuGetProcAddress_v2 (or the 4-argument cuGetProcAddress) with
 *                          cudaVersion VER, legacy or per-thread default stream flags
 *   dev=N  alloc:API:BYTES  free  freeall  info  fill:API:CHUNK  threads:N:CHUNK
 *   which:NAME  errno:API:BYTES  forkalloc:BYTES  stubused  wait
 *   execself STEP...   exec() this program again with the remaining steps
 * API is one of mem pitch managed create async pool. Sizes accept K and M suffixes.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hcs_vendor/cuda.h"

enum path { DIRECT, DLSYM, DEFAULT, PROC };
static enum path path = DLSYM;
static int proc_version = 12000, proc_v1, proc_ptds;
static void *lib;

struct allocation {
    char api[16];
    unsigned long long key;
};
static struct allocation held[4096];
static int nheld;
static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;

#ifdef PROBE_LINKED
static const struct {
    const char *name;
    void *fn;
} LINKED[] = {
    {"cuMemAlloc_v2", (void *)cuMemAlloc_v2}, {"cuMemAllocPitch_v2", (void *)cuMemAllocPitch_v2},
    {"cuMemAllocManaged", (void *)cuMemAllocManaged}, {"cuMemFree_v2", (void *)cuMemFree_v2},
    {"cuMemGetInfo_v2", (void *)cuMemGetInfo_v2}, {"cuMemCreate", (void *)cuMemCreate},
    {"cuMemRelease", (void *)cuMemRelease}, {"cuMemAllocAsync", (void *)cuMemAllocAsync},
    {"cuMemAllocFromPoolAsync", (void *)cuMemAllocFromPoolAsync},
    {"cuMemFreeAsync", (void *)cuMemFreeAsync}, {"cuCtxSetCurrent", (void *)cuCtxSetCurrent},
    {"cuCtxGetDevice", (void *)cuCtxGetDevice},
};
#endif

static unsigned long long parse_size(const char *s) {
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    return *end == 'M' ? v << 20 : *end == 'K' ? v << 10 : v;
}

/* The exported name for the direct/dlsym paths; proc name for cuGetProcAddress. */
static void *resolve(const char *exported, const char *proc) {
    if (path == DIRECT) {
#ifdef PROBE_LINKED
        for (size_t i = 0; i < sizeof LINKED / sizeof LINKED[0]; i++)
            if (strcmp(LINKED[i].name, exported) == 0)
                return LINKED[i].fn;
#endif
        return NULL;
    }
    if (path == DEFAULT)
        return dlsym(RTLD_DEFAULT, exported);
    if (path == DLSYM)
        return dlsym(lib, exported);
    void *fn = NULL;
    cuuint64_t flags = proc_ptds ? CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM
                                 : CU_GET_PROC_ADDRESS_LEGACY_STREAM;
    if (proc_v1) {
        __typeof__(&cuGetProcAddress) gpa = (__typeof__(&cuGetProcAddress))dlsym(lib, "cuGetProcAddress");
        if (gpa == NULL || gpa(proc, &fn, proc_version, flags) != CUDA_SUCCESS)
            return NULL;
    } else {
        __typeof__(&cuGetProcAddress_v2) gpa =
            (__typeof__(&cuGetProcAddress_v2))dlsym(lib, "cuGetProcAddress_v2");
        CUdriverProcAddressQueryResult status;
        if (gpa == NULL || gpa(proc, &fn, proc_version, flags, &status) != CUDA_SUCCESS)
            return NULL;
    }
    return fn;
}

#define CALL(type, exported, proc) ((__typeof__(&type))resolve(exported, proc))

static CUresult do_alloc(const char *api, unsigned long long size, unsigned long long *key) {
    CUdeviceptr p = 0;
    CUresult rc = CUDA_ERROR_INVALID_VALUE;
    if (strcmp(api, "mem") == 0) {
        rc = CALL(cuMemAlloc_v2, "cuMemAlloc_v2", "cuMemAlloc")(&p, size);
    } else if (strcmp(api, "pitch") == 0) {
        size_t pitch = 0;
        rc = CALL(cuMemAllocPitch_v2, "cuMemAllocPitch_v2", "cuMemAllocPitch")(&p, &pitch, size / 4 + 100, 4, 4);
    } else if (strcmp(api, "managed") == 0) {
        rc = CALL(cuMemAllocManaged, "cuMemAllocManaged", "cuMemAllocManaged")(&p, size, 1);
    } else if (strcmp(api, "create") == 0 || strcmp(api, "hostcreate") == 0) {
        CUdevice dev = 0;
        CALL(cuCtxGetDevice, "cuCtxGetDevice", "cuCtxGetDevice")(&dev);
        CUmemAllocationProp prop = {0};
        prop.location.type = api[0] == 'h' ? CU_MEM_LOCATION_TYPE_INVALID : CU_MEM_LOCATION_TYPE_DEVICE;
        prop.location.id = dev;
        CUmemGenericAllocationHandle h = 0;
        rc = CALL(cuMemCreate, "cuMemCreate", "cuMemCreate")(&h, size, &prop, 0);
        p = h;
    } else if (strcmp(api, "async") == 0) {
        rc = CALL(cuMemAllocAsync, proc_ptds ? "cuMemAllocAsync_ptsz" : "cuMemAllocAsync",
                  "cuMemAllocAsync")(&p, size, NULL);
    } else if (strcmp(api, "pool") == 0) {
        rc = CALL(cuMemAllocFromPoolAsync, "cuMemAllocFromPoolAsync", "cuMemAllocFromPoolAsync")(
            &p, size, NULL, NULL);
    }
    *key = p;
    return rc;
}

static CUresult do_free(const struct allocation *a) {
    if (strcmp(a->api, "create") == 0 || strcmp(a->api, "hostcreate") == 0)
        return CALL(cuMemRelease, "cuMemRelease", "cuMemRelease")(a->key);
    if (strcmp(a->api, "async") == 0 || strcmp(a->api, "pool") == 0)
        return CALL(cuMemFreeAsync, proc_ptds ? "cuMemFreeAsync_ptsz" : "cuMemFreeAsync",
                    "cuMemFreeAsync")(a->key, NULL);
    return CALL(cuMemFree_v2, "cuMemFree_v2", "cuMemFree")(a->key);
}

static CUresult alloc_and_hold(const char *api, unsigned long long size) {
    unsigned long long key = 0;
    CUresult rc = do_alloc(api, size, &key);
    if (rc == CUDA_SUCCESS) {
        pthread_mutex_lock(&held_lock);
        if (nheld < (int)(sizeof held / sizeof held[0])) {
            snprintf(held[nheld].api, sizeof held[nheld].api, "%s", api);
            held[nheld++].key = key;
        }
        pthread_mutex_unlock(&held_lock);
    }
    return rc;
}

static int fill(const char *api, unsigned long long chunk) {
    int count = 0;
    while (count < 4000 && alloc_and_hold(api, chunk) == CUDA_SUCCESS)
        count++;
    return count;
}

static unsigned long long thread_chunk;
static void *fill_thread(void *arg) {
    *(int *)arg = fill("mem", thread_chunk);
    return NULL;
}

static void threads(int n, unsigned long long chunk) {
    pthread_t tid[64];
    int counts[64] = {0}, total = 0;
    thread_chunk = chunk;
    for (int i = 0; i < n && i < 64; i++)
        pthread_create(&tid[i], NULL, fill_thread, &counts[i]);
    for (int i = 0; i < n && i < 64; i++) {
        pthread_join(tid[i], NULL);
        total += counts[i];
    }
    printf("threads count=%d\n", total);
}

static void info(void) {
    size_t free = 0, total = 0;
    CUresult rc = CALL(cuMemGetInfo_v2, "cuMemGetInfo_v2", "cuMemGetInfo")(&free, &total);
    printf("info rc=%d free=%zu total=%zu\n", rc, free, total);
}

static void which(const char *name) {
    void *fn = resolve(name, name);
    Dl_info dl;
    const char *object = "none";
    if (fn != NULL && dladdr(fn, &dl) != 0 && dl.dli_fname != NULL)
        object = strrchr(dl.dli_fname, '/') ? strrchr(dl.dli_fname, '/') + 1 : dl.dli_fname;
    printf("which %s %s\n", name, object);
}

static void set_path(const char *spec) {
    if (strcmp(spec, "direct") == 0)
        path = DIRECT;
    else if (strcmp(spec, "dlsym") == 0)
        path = DLSYM;
    else if (strcmp(spec, "default") == 0)
        path = DEFAULT;
    else if (strncmp(spec, "proc:", 5) == 0) {
        path = PROC;
        proc_version = atoi(spec + 5);
        proc_v1 = strstr(spec, ":v1") != NULL;
        proc_ptds = strstr(spec, ":ptds") != NULL;
    }
}

static void forkalloc(unsigned long long size) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        unsigned long long key;
        printf("child rc=%d\n", do_alloc("mem", size, &key));
        fflush(stdout);
        _exit(0);
    }
    waitpid(pid, NULL, 0);
}

static void step(char *arg) {
    char api[16] = "";
    unsigned long long size = 0;
    char *colon = strchr(arg, ':');
    char *second = colon ? strchr(colon + 1, ':') : NULL;
    if (colon && second) {
        snprintf(api, sizeof api, "%.*s", (int)(second - colon - 1), colon + 1);
        size = parse_size(second + 1);
    }
    if (strncmp(arg, "path=", 5) == 0) {
        set_path(arg + 5);
    } else if (strncmp(arg, "dev=", 4) == 0) {
        CALL(cuCtxSetCurrent, "cuCtxSetCurrent", "cuCtxSetCurrent")((CUcontext)(intptr_t)(atoi(arg + 4) + 1));
    } else if (strncmp(arg, "alloc:", 6) == 0) {
        printf("alloc %s rc=%d\n", api, alloc_and_hold(api, size));
    } else if (strcmp(arg, "free") == 0 && nheld > 0) {
        printf("free rc=%d\n", do_free(&held[--nheld]));
    } else if (strcmp(arg, "freeall") == 0) {
        int bad = 0;
        while (nheld > 0)
            bad += do_free(&held[--nheld]) != CUDA_SUCCESS;
        printf("freeall failed=%d\n", bad);
    } else if (strcmp(arg, "info") == 0) {
        info();
    } else if (strncmp(arg, "fill:", 5) == 0) {
        printf("fill %s count=%d\n", api, fill(api, size));
    } else if (strncmp(arg, "threads:", 8) == 0) {
        threads(atoi(arg + 8), parse_size(strchr(arg + 8, ':') + 1));
    } else if (strncmp(arg, "which:", 6) == 0) {
        which(arg + 6);
    } else if (strncmp(arg, "errno:", 6) == 0) {
        errno = EILSEQ;
        CUresult rc = alloc_and_hold(api, size);
        printf("errno rc=%d %s\n", rc, errno == EILSEQ ? "preserved" : strerror(errno));
    } else if (strncmp(arg, "forkalloc:", 10) == 0) {
        forkalloc(parse_size(arg + 10));
    } else if (strcmp(arg, "stubused") == 0) {
        unsigned long long (*used)(int) = (unsigned long long (*)(int))dlsym(lib, "hcsStubUsed");
        printf("stubused dev0=%llu dev1=%llu\n", used(0), used(1));
    } else if (strcmp(arg, "wait") == 0) {
        printf("ready\n");
        fflush(stdout);
        while (getchar() != EOF) {
        }
    } else {
        printf("unknown step %s\n", arg);
    }
    fflush(stdout);
}

int main(int argc, char **argv) {
    lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        printf("no libcuda: %s\n", dlerror());
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "execself") == 0) {
            argv[i] = argv[0];
            execv("/proc/self/exe", argv + i);
            printf("exec failed\n");
            return 2;
        }
        step(argv[i]);
    }
    return 0;
}
