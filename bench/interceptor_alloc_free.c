/* interceptor_alloc_free N BYTES: times N cuMemAlloc/cuMemFree pairs of BYTES each, and N calls
 * of an entry point the interceptor does not wrap (cuCtxGetDevice, standing in for a kernel
 * launch), both resolved the way CUDA 12/13 runtimes do it: dlopen("libcuda.so.1"), dlsym
 * "cuGetProcAddress_v2", then cuGetProcAddress_v2(name, 12000). Prints ns per call.
 * Used by interceptor_overhead.py against the test suite's stub driver (or a real one). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef int (*getproc_fn)(const char *, void **, int, unsigned long long, int *);
typedef int (*alloc_fn)(unsigned long long *, size_t);
typedef int (*free_fn)(unsigned long long);
typedef int (*device_fn)(int *);
typedef int (*init_fn)(unsigned int);

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void *proc(getproc_fn getproc, const char *name) {
    void *fn = NULL;
    int status = 0;
    if (getproc(name, &fn, 12000, 0, &status) != 0 || fn == NULL) {
        fprintf(stderr, "cuGetProcAddress_v2(%s) failed\n", name);
        exit(2);
    }
    return fn;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 200000;
    size_t bytes = argc > 2 ? (size_t)atol(argv[2]) : (1 << 20);
    void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    getproc_fn getproc = lib ? (getproc_fn)dlsym(lib, "cuGetProcAddress_v2") : NULL;
    if (getproc == NULL) {
        fprintf(stderr, "no libcuda.so.1 with cuGetProcAddress_v2\n");
        return 2;
    }
    ((init_fn)proc(getproc, "cuInit"))(0);
    alloc_fn mem_alloc = (alloc_fn)proc(getproc, "cuMemAlloc");
    free_fn mem_free = (free_fn)proc(getproc, "cuMemFree");
    device_fn get_device = (device_fn)proc(getproc, "cuCtxGetDevice");
    unsigned long long p;
    int dev;
    for (long i = 0; i < n / 10; i++) /* warm up */
        if (mem_alloc(&p, bytes) != 0 || mem_free(p) != 0)
            return fprintf(stderr, "allocation failed\n"), 1;
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        mem_alloc(&p, bytes);
        mem_free(p);
    }
    double t1 = now_ns();
    for (long i = 0; i < n; i++)
        get_device(&dev);
    double t2 = now_ns();
    printf("pair_ns=%.1f unwrapped_call_ns=%.2f\n", (t1 - t0) / n, (t2 - t1) / n);
    return 0;
}
