// SPDX-License-Identifier: GPL-2.0
/* Sub-health signals of accelerator devices, filtered in the kernel so that a chatty kernel or a
 * busy ioctl path costs nothing in user space:
 *   printk:console          driver lines (NVRM, amdgpu, [ascend] devdrv, AER...) only;
 *   ras:aer_event           every PCIe AER event (absent on kernels without CONFIG_PCIEAER);
 *   syscalls:sys_*_ioctl    ioctls on vendor device files slower than a threshold.
 * CO-RE: the kernel structures below are minimal declarations with preserve_access_index, so
 * libbpf relocates each field against the running kernel's BTF; no vmlinux.h is generated. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "hcs_health.h"

char LICENSE[] SEC("license") = "GPL";

/* --- settings, written by the loader before load (.rodata) --- */
const volatile __u64 ioctl_slow_ns = 50ULL * 1000 * 1000;
const volatile __u32 n_prefixes = 6;
const volatile char prefixes[HCS_PREFIX_MAX][HCS_PREFIX_LEN] = {
	"nvidia", "davinci", "devdrv", "kfd", "cambricon", "mlu",
};

/* --- maps --- */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

/* Records the ring buffer had no room for; the loader reports the total. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

struct ioctl_start {
	__u64 ts_ns;
	__u32 cmd;
	__u32 pad;
	char file[HCS_FILE_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct ioctl_start);
} ioctl_starts SEC(".maps");

static __always_inline void count_drop(void)
{
	__u32 key = 0;
	__u64 *n = bpf_map_lookup_elem(&drops, &key);

	if (n)
		__sync_fetch_and_add(n, 1);
}

/* --- printk:console --- */

/* Tracepoint record layout from /sys/kernel/tracing/events/printk/console/format. */
struct console_ctx {
	__u64 common;
	__u32 msg_loc; /* __data_loc: offset in the low 16 bits, length in the high 16 */
};

/* Vendor driver tags, and the PCIe AER report header that drivers/pci/pcie/aer.c prints under
 * the name of the device's own driver ("nvme 0000:02:00.0: PCIe Bus Error: severity=..."). */
#define N_TAGS 17
#define TAG_LEN 16
static const char tags[N_TAGS][TAG_LEN] = {
	"NVRM", "nvidia", "amdgpu", "kfd", "[drm", "davinci", "devdrv", "devmm", "drv_pcie",
	"tsdrv", "[ascend]", "cambricon", "cndrv", "pcieport", "AER:", "Xid", "PCIe Bus Error",
};

struct scan {
	char buf[HCS_SCAN_MAX + TAG_LEN]; /* zero padded: a tag never reads past the end */
	int found;
};

static __always_inline int tag_at(const char *p, int t)
{
	for (int k = 0; k < TAG_LEN; k++) {
		char c = tags[t][k];

		if (c == 0)
			return 1;
		if (p[k] != c)
			return 0;
	}
	return 1;
}

/* bpf_loop callback: the verifier checks it once, not once per position (kernel 5.17+). */
static long scan_position(__u32 i, void *data)
{
	struct scan *s = data;

	if (i >= HCS_SCAN_MAX)
		return 1;
	for (int t = 0; t < N_TAGS; t++) {
		if (tag_at(&s->buf[i], t)) {
			s->found = 1;
			return 1;
		}
	}
	return 0;
}

SEC("tracepoint/printk/console")
int hcs_printk(struct console_ctx *ctx)
{
	struct scan s = {};
	struct hcs_printk_event *ev;
	const char *msg = (const char *)ctx + (ctx->msg_loc & 0xffff);
	long n;

	if (bpf_probe_read_kernel_str(s.buf, HCS_SCAN_MAX, msg) <= 0)
		return 0;
	bpf_loop(HCS_SCAN_MAX, scan_position, &s, 0);
	if (!s.found)
		return 0;
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		count_drop();
		return 0;
	}
	n = bpf_probe_read_kernel_str(ev->msg, sizeof(ev->msg), msg);
	ev->kind = HCS_EV_PRINTK;
	ev->len = n > 0 ? n - 1 : 0;
	ev->ts_ns = bpf_ktime_get_ns();
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

/* --- ras:aer_event --- */

/* TP_STRUCT__entry of TRACE_EVENT(aer_event) in include/ras/ras_event.h (Linux 4.18+):
 * __string(dev_name), u32 status, u8 severity, u8 tlp_header_valid, u32 tlp_header[4]. */
struct aer_event_ctx {
	__u64 common;
	__u32 dev_name_loc;
	__u32 status;
	__u8 severity;
	__u8 tlp_header_valid;
	__u32 tlp_header[4];
};

SEC("tracepoint/ras/aer_event")
int hcs_aer(struct aer_event_ctx *ctx)
{
	struct hcs_aer_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);

	if (!ev) {
		count_drop();
		return 0;
	}
	ev->kind = HCS_EV_AER;
	ev->ts_ns = bpf_ktime_get_ns();
	ev->status = ctx->status;
	ev->severity = ctx->severity;
	ev->tlp_header_valid = ctx->tlp_header_valid;
	ev->pad[0] = ev->pad[1] = 0;
	for (int i = 0; i < 4; i++)
		ev->tlp_header[i] = ctx->tlp_header[i];
	if (bpf_probe_read_kernel_str(ev->dev, sizeof(ev->dev),
				      (const char *)ctx + (ctx->dev_name_loc & 0xffff)) < 0)
		ev->dev[0] = 0;
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

/* --- ioctl latency --- */

struct qstr {
	const unsigned char *name;
} __attribute__((preserve_access_index));

struct dentry {
	struct qstr d_name;
} __attribute__((preserve_access_index));

struct path {
	struct dentry *dentry;
} __attribute__((preserve_access_index));

struct file {
	struct path f_path;
} __attribute__((preserve_access_index));

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
} __attribute__((preserve_access_index));

struct files_struct {
	struct fdtable *fdt;
} __attribute__((preserve_access_index));

struct task_struct {
	struct files_struct *files;
} __attribute__((preserve_access_index));

/* Record layouts from /sys/kernel/tracing/events/syscalls/sys_{enter,exit}_ioctl/format. */
struct sys_enter_ioctl_ctx {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__u64 fd;
	__u64 cmd;
	__u64 arg;
};

struct sys_exit_ioctl_ctx {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__s64 ret;
};

static __always_inline int file_name(__u64 fd, char *name)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *file = 0;
	const unsigned char *dname;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_core_read(&file, sizeof(file), &fds[fd]) || !file)
		return 0;
	dname = BPF_CORE_READ(file, f_path.dentry, d_name.name);
	return bpf_probe_read_kernel_str(name, HCS_FILE_MAX, dname) > 0;
}

static __always_inline int is_vendor_file(const char *name)
{
	for (int p = 0; p < HCS_PREFIX_MAX; p++) {
		if (p >= n_prefixes)
			return 0;
		for (int k = 0; k < HCS_PREFIX_LEN; k++) {
			char c = prefixes[p][k];

			if (c == 0)
				return k > 0;
			if (name[k] != c)
				break;
		}
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_ioctl")
int hcs_ioctl_enter(struct sys_enter_ioctl_ctx *ctx)
{
	struct ioctl_start start = {};
	__u64 id = bpf_get_current_pid_tgid();

	if (!file_name(ctx->fd, start.file) || !is_vendor_file(start.file))
		return 0;
	start.cmd = (__u32)ctx->cmd;
	start.ts_ns = bpf_ktime_get_ns();
	bpf_map_update_elem(&ioctl_starts, &id, &start, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_ioctl")
int hcs_ioctl_exit(struct sys_exit_ioctl_ctx *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ioctl_start *start = bpf_map_lookup_elem(&ioctl_starts, &id);
	struct hcs_ioctl_event *ev;
	__u64 now, latency;

	if (!start)
		return 0;
	now = bpf_ktime_get_ns();
	latency = now - start->ts_ns;
	if (latency < ioctl_slow_ns) {
		bpf_map_delete_elem(&ioctl_starts, &id);
		return 0;
	}
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		count_drop();
		bpf_map_delete_elem(&ioctl_starts, &id);
		return 0;
	}
	ev->kind = HCS_EV_IOCTL;
	ev->pid = id >> 32;
	ev->tid = (__u32)id;
	ev->ts_ns = now;
	ev->latency_ns = latency;
	ev->cmd = start->cmd;
	__builtin_memcpy(ev->file, start->file, sizeof(ev->file));
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	bpf_ringbuf_submit(ev, 0);
	bpf_map_delete_elem(&ioctl_starts, &id);
	return 0;
}
