/* hcs-ebpf-loader: loads hcs_health.bpf.o (embedded through the bpftool skeleton), attaches each
 * program on its own and prints one JSON object per line on stdout (README.md, "Protocol").
 * A program that cannot attach is reported and the others keep running; the loader fails only
 * when nothing can load. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "coalesce.h"
#include "emit.h"
#include "hcs_health.h"
#include "hcs_health.skel.h"

#define POLL_MS 500
#define HOUSEKEEPING_NS 100000000ULL /* drop counter and stdout checks: at most every 100 ms */

struct options {
	unsigned long long slow_us;
	unsigned long long coalesce_ms; /* window of repeated records (coalesce.h), 0: off */
	unsigned long long batch_ms;    /* pause after a batch so that a flood is read in batches */
	const char *prefixes[HCS_PREFIX_MAX];
	unsigned int n_prefixes;
	bool no_printk, no_aer, no_ioctl;
};

/* One program as the protocol names it; ioctl is two BPF programs (enter and exit). */
struct group {
	const char *name;
	const char *category; /* tracepoint category */
	const char *events[2];
	const char *hint; /* why the tracepoint may be missing */
	bool disabled;
	const char *flag;
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void usage(FILE *f)
{
	fputs("usage: hcs-ebpf-loader [--ioctl-slow-us N] [--device-prefix P]... [--no-printk]\n"
	      "                       [--no-aer] [--no-ioctl] [--coalesce-ms N] [--batch-ms N]\n",
	      f);
}

static void die(int code, const char *fmt, const char *arg)
{
	fputs("hcs-ebpf-loader: ", stderr);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(code);
}

/* A non-negative integer option; exits 2 naming the option otherwise. */
static unsigned long long number(const char *arg, const char *what, unsigned long long max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || *end || !*arg || arg[0] == '-' || v > max)
		die(2, what, arg);
	return v;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "ioctl-slow-us", required_argument, NULL, 's' },
		{ "device-prefix", required_argument, NULL, 'p' },
		{ "no-printk", no_argument, NULL, 'P' },
		{ "no-aer", no_argument, NULL, 'A' },
		{ "no-ioctl", no_argument, NULL, 'I' },
		{ "coalesce-ms", required_argument, NULL, 'c' },
		{ "batch-ms", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->slow_us = number(optarg, "--ioctl-slow-us wants microseconds (an integer "
					    ">= 0), got '%s'", ~0ULL / 1000);
			break;
		case 'c':
			o->coalesce_ms = number(optarg, "--coalesce-ms wants milliseconds (0 to "
						"60000), got '%s'", 60000);
			break;
		case 'b':
			o->batch_ms = number(optarg, "--batch-ms wants milliseconds (0 to 1000), "
					     "got '%s'", 1000);
			break;
		case 'p':
			if (o->n_prefixes == HCS_PREFIX_MAX)
				die(2, "--device-prefix: at most 8 prefixes (got another: '%s')", optarg);
			if (!*optarg || strlen(optarg) >= HCS_PREFIX_LEN)
				die(2, "--device-prefix wants 1 to 15 characters, got '%s'", optarg);
			o->prefixes[o->n_prefixes++] = optarg;
			break;
		case 'P': o->no_printk = true; break;
		case 'A': o->no_aer = true; break;
		case 'I': o->no_ioctl = true; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc)
		die(2, "unexpected argument '%s'", argv[optind]);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static bool tracepoint_exists(const char *category, const char *event)
{
	static const char *roots[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	char path[256];

	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		snprintf(path, sizeof(path), "%s/events/%s/%s", roots[i], category, event);
		if (access(path, F_OK) == 0)
			return true;
	}
	return false;
}

/* libbpf finds tracepoint ids in tracefs: mount it when no tracing directory is there. */
static void ensure_tracefs(void)
{
	if (access("/sys/kernel/tracing/events", F_OK) == 0 ||
	    access("/sys/kernel/debug/tracing/events", F_OK) == 0)
		return;
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL) != 0)
		fprintf(stderr, "hcs-ebpf-loader: tracefs is not mounted and mounting it on "
				"/sys/kernel/tracing failed: %s\n", strerror(errno));
}

static struct bpf_program *group_prog(struct hcs_health *skel, const char *name, int i)
{
	if (strcmp(name, "printk") == 0)
		return i == 0 ? skel->progs.hcs_printk : NULL;
	if (strcmp(name, "aer") == 0)
		return i == 0 ? skel->progs.hcs_aer : NULL;
	return i == 0 ? skel->progs.hcs_ioctl_enter : skel->progs.hcs_ioctl_exit;
}

static void configure(struct hcs_health *skel, const struct options *o, struct group *groups,
		      int n)
{
	skel->rodata->ioctl_slow_ns = o->slow_us * 1000ULL;
	if (o->n_prefixes) {
		memset((void *)skel->rodata->prefixes, 0, sizeof(skel->rodata->prefixes));
		for (unsigned int i = 0; i < o->n_prefixes; i++)
			strcpy((char *)skel->rodata->prefixes[i], o->prefixes[i]);
		skel->rodata->n_prefixes = o->n_prefixes;
	}
	for (int g = 0; g < n; g++)
		for (int i = 0; i < 2; i++) {
			struct bpf_program *p = group_prog(skel, groups[g].name, i);

			if (p && groups[g].disabled)
				bpf_program__set_autoload(p, false);
		}
}

/* Attaches one group; returns NULL on success, else the reason (in buf). */
static const char *attach_group(struct hcs_health *skel, const struct group *g, char *buf,
				size_t len)
{
	for (int i = 0; i < 2; i++) {
		struct bpf_program *p = group_prog(skel, g->name, i);

		if (!p)
			continue;
		if (!tracepoint_exists(g->category, g->events[i])) {
			snprintf(buf, len, "tracepoint %s:%s not found (%s)", g->category,
				 g->events[i], g->hint);
			return buf;
		}
		if (!bpf_program__attach(p)) {
			snprintf(buf, len, "attaching tracepoint %s:%s failed: %s", g->category,
				 g->events[i], strerror(errno));
			return buf;
		}
	}
	return NULL;
}

static int on_record(void *ctx, void *data, size_t size)
{
	return coalesce_record(ctx, data, size);
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t); /* bpf_ktime_get_ns's clock */
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

static void pause_ms(unsigned long long ms)
{
	struct timespec t = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&t, NULL); /* a signal ends it early: the loop then sees `stopping` */
}

static bool stdout_gone(void)
{
	struct pollfd p = { .fd = STDOUT_FILENO, .events = 0 };

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP | POLLNVAL));
}

/* Reports a closed stdout (-1) and new kernel-side drops. */
static int housekeeping(struct hcs_health *skel, unsigned long long *lost)
{
	unsigned long long now_lost;
	__u32 key = 0;

	if (stdout_gone())
		return -1;
	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.drops), &key, &now_lost) == 0 &&
	    now_lost != *lost) {
		*lost = now_lost;
		return emit_lost(stdout, *lost);
	}
	return 0;
}

/* Reads the ring buffer until a signal or a closed stdout. Records of one poll go out in one
 * write; with --batch-ms the loop rests that long after a poll that found records, so that a
 * flood wakes the loader (and its reader) once per batch while a lone record, arriving when
 * the loader waits, goes out at once. */
static int run(struct hcs_health *skel, const struct options *o)
{
	static struct coalescer co; /* 150 KiB: not on the stack */
	struct ring_buffer *rb;
	unsigned long long lost = 0;
	uint64_t now, checked = 0;
	int err = 0;

	coalesce_init(&co, stdout, o->coalesce_ms * 1000000ULL);
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_record, &co, NULL);
	if (!rb)
		die(1, "cannot open the ring buffer: %s", strerror(errno));
	while (!stopping) {
		err = ring_buffer__poll(rb, coalesce_timeout_ms(&co, now_ns(), POLL_MS));
		if (err == -EINTR) {
			err = 0;
			continue;
		}
		now = now_ns();
		if (err < 0 || coalesce_expire(&co, now) || emit_flush(stdout))
			break;
		/* In a flood these syscalls wait for a quieter moment (or 100 ms). */
		if (err == 0 || now - checked >= HOUSEKEEPING_NS) {
			checked = now;
			if (housekeeping(skel, &lost))
				break;
		}
		if (err > 0 && o->batch_ms)
			pause_ms(o->batch_ms);
	}
	if (stopping && coalesce_expire(&co, UINT64_MAX) == 0) /* the counts still open */
		emit_flush(stdout);
	ring_buffer__free(rb);
	/* A closed stdout is how a reader says it is done: not an error. */
	return err < 0 && err != -1 ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct options o = { .slow_us = 50000, .coalesce_ms = 250, .batch_ms = 10 };
	struct group groups[] = {
		{ "printk", "printk", { "console", NULL }, "kernel built without tracepoints?",
		  false, "--no-printk" },
		{ "aer", "ras", { "aer_event", NULL }, "kernel built without CONFIG_PCIEAER?",
		  false, "--no-aer" },
		{ "ioctl", "syscalls", { "sys_enter_ioctl", "sys_exit_ioctl" },
		  "kernel built without CONFIG_FTRACE_SYSCALLS?", false, "--no-ioctl" },
	};
	const int n = sizeof(groups) / sizeof(groups[0]);
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	struct sigaction sa = { .sa_handler = on_signal };
	struct hcs_health *skel;
	char reason[3][256];
	int attached = 0, err;

	parse_options(argc, argv, &o);
	groups[0].disabled = o.no_printk;
	groups[1].disabled = o.no_aer;
	groups[2].disabled = o.no_ioctl;
	if (o.no_printk && o.no_aer && o.no_ioctl)
		die(2, "%s", "every program is turned off (--no-printk --no-aer --no-ioctl)");
	libbpf_set_print(libbpf_print);
	setrlimit(RLIMIT_MEMLOCK, &unlimited); /* kernels before 5.11 charge maps to it */
	ensure_tracefs();

	skel = hcs_health__open();
	if (!skel)
		die(1, "cannot open the BPF object: %s", strerror(errno));
	configure(skel, &o, groups, n);
	err = hcs_health__load(skel);
	if (err) {
		if (err == -EPERM || err == -EACCES)
			die(1, "cannot load the BPF programs: %s; needs CAP_BPF and CAP_PERFMON (or "
			       "root)", strerror(-err));
		die(1, "cannot load the BPF programs: %s (see the libbpf lines above)",
		    strerror(-err));
	}

	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	for (int g = 0; g < n; g++) {
		const char *why;

		if (groups[g].disabled) {
			snprintf(reason[g], sizeof(reason[g]), "turned off (%s)", groups[g].flag);
			why = reason[g];
		} else {
			why = attach_group(skel, &groups[g], reason[g], sizeof(reason[g]));
			attached += why == NULL;
		}
		if (emit_attach(stdout, groups[g].name, why))
			return 0;
	}
	if (!attached) {
		hcs_health__destroy(skel);
		die(1, "%s", "no program could attach (see the attach lines on stdout)");
	}
	if (emit_line(stdout, "{\"type\":\"ready\"}"))
		return 0;
	setvbuf(stdout, NULL, _IOFBF, 1 << 16); /* a batch of records is one write */
	err = run(skel, &o);
	hcs_health__destroy(skel);
	return err;
}
