/* Records the BPF programs (hcs_health.bpf.c) put in the ring buffer and the loader (loader.c)
 * reads back: one layout, shared by both sides, so a field added here reaches both builds. */
#ifndef HCS_HEALTH_H
#define HCS_HEALTH_H

#include <linux/types.h>

#define HCS_MSG_MAX 256      /* bytes of a printk line kept (the rest is cut) */
#define HCS_SCAN_MAX 128     /* a driver tag must start within this many bytes of the line */
#define HCS_DEV_MAX 32       /* PCI device name of an AER event (0000:3b:00.0) */
#define HCS_FILE_MAX 32      /* device file name of a slow ioctl (nvidia0) */
#define HCS_COMM_MAX 16      /* TASK_COMM_LEN */
#define HCS_PREFIX_MAX 8     /* device file name prefixes the ioctl program watches */
#define HCS_PREFIX_LEN 16    /* bytes per prefix, NUL included */

enum hcs_event_kind {
	HCS_EV_PRINTK = 1,
	HCS_EV_AER = 2,
	HCS_EV_IOCTL = 3,
};

struct hcs_printk_event {
	__u32 kind;
	__u32 len; /* bytes of msg before its NUL */
	__u64 ts_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	char msg[HCS_MSG_MAX];
};

struct hcs_aer_event {
	__u32 kind;
	__u32 status; /* the AER correctable or uncorrectable status register */
	__u64 ts_ns;
	__u8 severity; /* 0 non-fatal, 1 fatal, 2 corrected (include/ras/ras_event.h) */
	__u8 tlp_header_valid;
	__u8 pad[2];
	__u32 tlp_header[4];
	char dev[HCS_DEV_MAX];
};

struct hcs_ioctl_event {
	__u32 kind;
	__u32 pid; /* the process (tgid) */
	__u64 ts_ns;
	__u64 latency_ns;
	__u32 cmd;
	__u32 tid;
	char comm[HCS_COMM_MAX];
	char file[HCS_FILE_MAX];
};

#endif
