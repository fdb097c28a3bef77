/* Coalescing of repeated records (README.md, "Protocol"): a flood of identical lines (an AER
 * correctable storm, a GPU repeating its Xid) becomes its first record, emitted at once, plus one
 * record per window carrying how many repeats it stands for ("count"). Bounded: a fixed table,
 * no allocation; a record that finds no free slot is emitted as it is (nothing is dropped). */
#ifndef HCS_COALESCE_H
#define HCS_COALESCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hcs_health.h"

#define COALESCE_SLOTS 256 /* distinct messages counted at the same time */
#define COALESCE_PROBES 8  /* slots tried per hash (open addressing, bounded) */
#define COALESCE_KEY_MAX (4 + HCS_MSG_MAX)

union hcs_record {
	__u32 kind;
	struct hcs_printk_event printk;
	struct hcs_aer_event aer;
	struct hcs_ioctl_event ioctl;
};

struct coalesce_slot {
	bool used;
	uint32_t count;         /* repeats since the last record emitted for this key */
	uint64_t hash;
	uint64_t window_end_ns; /* CLOCK_MONOTONIC */
	uint64_t max_latency_ns; /* ioctl: the slowest of the repeats */
	size_t key_len;
	unsigned char key[COALESCE_KEY_MAX];
	union hcs_record last; /* the latest repeat: its fields go in the count record */
};

struct coalescer {
	FILE *out;
	uint64_t window_ns; /* 0: every record is emitted as it comes */
	struct coalesce_slot slots[COALESCE_SLOTS];
};

void coalesce_init(struct coalescer *c, FILE *out, uint64_t window_ns);

/* One ring buffer record: emitted now when it is the first of its key in the window, else
 * counted. Returns 0, or -1 when stdout is gone. */
int coalesce_record(struct coalescer *c, const void *data, size_t size);

/* Emits the count records of the windows ended by `now_ns` and frees keys that stayed quiet a
 * whole window. Returns 0, or -1 when stdout is gone. */
int coalesce_expire(struct coalescer *c, uint64_t now_ns);

/* Milliseconds until the next window ends (for the ring buffer poll), at most `cap_ms`. */
int coalesce_timeout_ms(const struct coalescer *c, uint64_t now_ns, int cap_ms);

#endif
