/* A fake accelerator for the stub vendor libraries: HCS_STUB_DEVICES devices of
 * HCS_STUB_VRAM bytes each (default 2 x 1 GiB), backed by malloc. Each stub library includes
 * this file and so has its own devices. HCS_STUB_ALLOC_SLEEP_MS makes every allocation print
 * "stub: allocating" and sleep first, so a test can kill a process in the middle of one. */
#ifndef HCS_STUB_DEVICE_H
#define HCS_STUB_DEVICE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define STUB_DEVICES 2

struct stub_block {
    uint64_t size;
    int dev;
    int magic;
};

static uint64_t stub_used[STUB_DEVICES] __attribute__((unused));
static int stub_current __attribute__((unused));

static __attribute__((unused)) uint64_t stub_total(void) {
    const char *text = getenv("HCS_STUB_VRAM");
    return text ? strtoull(text, NULL, 10) : (1ULL << 30);
}

static __attribute__((unused)) void stub_maybe_sleep(void) {
    const char *ms = getenv("HCS_STUB_ALLOC_SLEEP_MS");
    if (ms == NULL)
        return;
    fputs("stub: allocating\n", stdout);
    fflush(stdout);
    usleep((useconds_t)atoi(ms) * 1000);
}

/* 0 and the block's user address, or -1 when the fake device is full or the input bad. */
static __attribute__((unused)) int stub_alloc(uint64_t size, int dev, void **out) {
    stub_maybe_sleep();
    if (out == NULL || size == 0 || dev < 0 || dev >= STUB_DEVICES)
        return -2;
    uint64_t before = __atomic_fetch_add(&stub_used[dev], size, __ATOMIC_ACQ_REL);
    if (before + size > stub_total()) {
        __atomic_fetch_sub(&stub_used[dev], size, __ATOMIC_ACQ_REL);
        return -1;
    }
    struct stub_block *b = malloc(sizeof *b + size);
    if (b == NULL) {
        __atomic_fetch_sub(&stub_used[dev], size, __ATOMIC_ACQ_REL);
        return -1;
    }
    *b = (struct stub_block){size, dev, 0x5eed};
    *out = b + 1;
    return 0;
}

static __attribute__((unused)) int stub_free(void *p) {
    if (p == NULL)
        return -2;
    struct stub_block *b = (struct stub_block *)p - 1;
    if (b->magic != 0x5eed)
        return -2;
    b->magic = 0;
    __atomic_fetch_sub(&stub_used[b->dev], b->size, __ATOMIC_ACQ_REL);
    free(b);
    return 0;
}

static __attribute__((unused)) void stub_info(int dev, uint64_t *free, uint64_t *total) {
    *total = stub_total();
    uint64_t used = __atomic_load_n(&stub_used[dev], __ATOMIC_ACQUIRE);
    *free = used < *total ? *total - used : 0;
}

#endif
