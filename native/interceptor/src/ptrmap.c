/* This process's tracked allocations: (address or handle, kind) -> (bytes, device).
 *
 * An open-addressing hash table with linear probing and backward-shift deletion (no
 * tombstones), guarded by one process-private mutex. It grows by doubling at half load; the
 * storage comes from malloc on first use, never in a constructor. A failed growth is reported
 * to the caller, which then refuses the allocation rather than lose track of it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hcs.h"

struct entry {
    uint64_t key; /* 0: empty */
    uint64_t bytes;
    int32_t dev;
    int32_t kind;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *table;
static size_t capacity; /* a power of two, or 0 before first use */
static size_t count;

static size_t slot_of(uint64_t key, int kind) {
    uint64_t h = (key ^ ((uint64_t)kind << 61)) * 0x9E3779B97F4A7C15ULL; /* Fibonacci hashing */
    return (size_t)(h >> 20) & (capacity - 1);
}

static void insert_raw(struct entry *e) {
    size_t i = slot_of(e->key, e->kind);
    while (table[i].key != 0)
        i = (i + 1) & (capacity - 1);
    table[i] = *e;
}

static int grow(void) {
    size_t old_capacity = capacity;
    struct entry *old = table;
    size_t new_capacity = capacity ? capacity * 2 : 1024;
    struct entry *fresh = calloc(new_capacity, sizeof *fresh);
    if (fresh == NULL)
        return -1;
    table = fresh;
    capacity = new_capacity;
    for (size_t i = 0; i < old_capacity; i++)
        if (old[i].key != 0)
            insert_raw(&old[i]);
    free(old);
    return 0;
}

int hcs_ptrmap_put(uint64_t key, enum hcs_kind kind, uint64_t bytes, int dev) {
    struct entry e = {key, bytes, dev, (int32_t)kind};
    int rc = 0;
    pthread_mutex_lock(&lock);
    if ((count + 1) * 2 > capacity)
        rc = grow();
    if (rc == 0) {
        insert_raw(&e);
        count++;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

/* Removes slot i and shifts the following cluster back so probes stay unbroken. */
static void remove_at(size_t i) {
    size_t hole = i;
    for (size_t j = (i + 1) & (capacity - 1); table[j].key != 0; j = (j + 1) & (capacity - 1)) {
        size_t home = slot_of(table[j].key, table[j].kind);
        /* j's entry may move into the hole if its home is not in (hole, j]. */
        int movable = (hole <= j) ? (home <= hole || home > j) : (home <= hole && home > j);
        if (movable) {
            table[hole] = table[j];
            hole = j;
        }
    }
    table[hole].key = 0;
    count--;
}

int hcs_ptrmap_take(uint64_t key, enum hcs_kind kind, uint64_t *bytes, int *dev) {
    int found = 0;
    pthread_mutex_lock(&lock);
    for (size_t i = capacity ? slot_of(key, kind) : 0; capacity && table[i].key != 0;
         i = (i + 1) & (capacity - 1)) {
        if (table[i].key == key && table[i].kind == (int32_t)kind) {
            *bytes = table[i].bytes;
            *dev = table[i].dev;
            remove_at(i);
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    return found;
}

void hcs_ptrmap_lock_for_fork(void) { pthread_mutex_lock(&lock); }

/* The child owns none of its parent's device allocations: it starts with an empty table. */
void hcs_ptrmap_unlock_after_fork(int child) {
    if (!child) {
        pthread_mutex_unlock(&lock);
        return;
    }
    pthread_mutex_init(&lock, NULL);
    if (table != NULL)
        memset(table, 0, capacity * sizeof *table);
    count = 0;
}
