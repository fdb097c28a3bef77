/* Repeated records counted instead of printed; see coalesce.h. Keys (exact bytes): printk the
 * line's text, aer device + status + severity, ioctl device file + command. */
#include "coalesce.h"

#include <string.h>

#include "emit.h"

static size_t put(unsigned char *key, size_t at, const void *p, size_t n)
{
	memcpy(key + at, p, n);
	return at + n;
}

/* The record's key, kind first; 0 for a record that is not coalesced (unknown or short). */
static size_t record_key(const void *data, size_t size, unsigned char *key)
{
	const union hcs_record *r = data;
	size_t n;

	if (size < sizeof(r->kind))
		return 0;
	n = put(key, 0, &r->kind, sizeof(r->kind));
	if (r->kind == HCS_EV_PRINTK && size >= sizeof(r->printk)) {
		size_t len = r->printk.len < HCS_MSG_MAX ? r->printk.len : HCS_MSG_MAX;

		return put(key, n, r->printk.msg, strnlen(r->printk.msg, len));
	}
	if (r->kind == HCS_EV_AER && size >= sizeof(r->aer)) {
		n = put(key, n, r->aer.dev, strnlen(r->aer.dev, sizeof(r->aer.dev)));
		n = put(key, n, &r->aer.status, sizeof(r->aer.status));
		return put(key, n, &r->aer.severity, sizeof(r->aer.severity));
	}
	if (r->kind == HCS_EV_IOCTL && size >= sizeof(r->ioctl)) {
		n = put(key, n, r->ioctl.file, strnlen(r->ioctl.file, sizeof(r->ioctl.file)));
		return put(key, n, &r->ioctl.cmd, sizeof(r->ioctl.cmd));
	}
	return 0;
}

/* FNV-1a, 64 bits. */
static uint64_t hash_key(const unsigned char *key, size_t len)
{
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ key[i]) * 1099511628211ULL;
	return h;
}

static uint64_t record_ts(const union hcs_record *r)
{
	if (r->kind == HCS_EV_PRINTK)
		return r->printk.ts_ns;
	return r->kind == HCS_EV_AER ? r->aer.ts_ns : r->ioctl.ts_ns;
}

static size_t record_size(__u32 kind)
{
	if (kind == HCS_EV_PRINTK)
		return sizeof(struct hcs_printk_event);
	return kind == HCS_EV_AER ? sizeof(struct hcs_aer_event) : sizeof(struct hcs_ioctl_event);
}

void coalesce_init(struct coalescer *c, FILE *out, uint64_t window_ns)
{
	memset(c->slots, 0, sizeof(c->slots));
	c->out = out;
	c->window_ns = window_ns;
}

/* The slot holding `key`, else NULL; *free_slot gets the first unused one of the probe run. */
static struct coalesce_slot *find(struct coalescer *c, uint64_t h, const unsigned char *key,
				  size_t len, struct coalesce_slot **free_slot)
{
	*free_slot = NULL;
	for (size_t i = 0; i < COALESCE_PROBES; i++) {
		struct coalesce_slot *s = &c->slots[(h + i) % COALESCE_SLOTS];

		if (!s->used) {
			if (!*free_slot)
				*free_slot = s;
		} else if (s->hash == h && s->key_len == len && memcmp(s->key, key, len) == 0) {
			return s;
		}
	}
	return NULL;
}

/* Ends the slot's windows up to now: a window with repeats gives one count record and opens
 * the next window; a window without any frees the slot. */
static int expire_slot(struct coalescer *c, struct coalesce_slot *s, uint64_t now_ns)
{
	while (s->used && now_ns >= s->window_end_ns) {
		if (s->count == 0) {
			s->used = false;
			break;
		}
		if (s->last.kind == HCS_EV_IOCTL)
			s->last.ioctl.latency_ns = s->max_latency_ns;
		if (emit_record(c->out, &s->last, record_size(s->last.kind), s->count))
			return -1;
		s->count = 0;
		s->max_latency_ns = 0;
		s->window_end_ns += c->window_ns;
	}
	return 0;
}

static void count_repeat(struct coalesce_slot *s, const void *data, size_t size)
{
	const union hcs_record *r = data;

	s->count++;
	memcpy(&s->last, data, record_size(r->kind) < size ? record_size(r->kind) : size);
	if (r->kind == HCS_EV_IOCTL && r->ioctl.latency_ns > s->max_latency_ns)
		s->max_latency_ns = r->ioctl.latency_ns;
}

int coalesce_record(struct coalescer *c, const void *data, size_t size)
{
	unsigned char key[COALESCE_KEY_MAX];
	struct coalesce_slot *s, *free_slot;
	size_t len = c->window_ns ? record_key(data, size, key) : 0;
	uint64_t h, ts;

	if (len == 0)
		return emit_record(c->out, data, size, 0);
	h = hash_key(key, len);
	ts = record_ts(data);
	s = find(c, h, key, len, &free_slot);
	if (s && expire_slot(c, s, ts))
		return -1;
	if (s && s->used) {
		count_repeat(s, data, size);
		return 0;
	}
	if (emit_record(c->out, data, size, 0)) /* the first one: at once */
		return -1;
	s = s ? s : free_slot;
	if (!s)
		return 0; /* table full here: this key is simply not coalesced */
	s->used = true;
	s->count = 0;
	s->max_latency_ns = 0;
	s->hash = h;
	s->key_len = len;
	memcpy(s->key, key, len);
	s->window_end_ns = ts + c->window_ns;
	return 0;
}

int coalesce_expire(struct coalescer *c, uint64_t now_ns)
{
	for (size_t i = 0; i < COALESCE_SLOTS; i++)
		if (c->slots[i].used && expire_slot(c, &c->slots[i], now_ns))
			return -1;
	return 0;
}

int coalesce_timeout_ms(const struct coalescer *c, uint64_t now_ns, int cap_ms)
{
	uint64_t cap = (uint64_t)cap_ms * 1000000ULL, wait = cap;

	for (size_t i = 0; i < COALESCE_SLOTS; i++) {
		const struct coalesce_slot *s = &c->slots[i];

		uint64_t left = s->window_end_ns > now_ns ? s->window_end_ns - now_ns : 0;

		if (s->used && left < wait)
			wait = left;
	}
	return (int)((wait + 999999ULL) / 1000000ULL);
}
