/* Formatting of the loader's JSON lines. Status lines are flushed at once; event records wait
 * for emit_flush, which the loader calls after each batch read from the ring buffer. */
#include "emit.h"

#include <string.h>

#include "hcs_health.h"

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 when it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned int min;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		len = 2, min = 0x80;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, min = 0x800;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4, min = 0x10000;
	else
		return 0;
	if (len > n)
		return 0;
	unsigned int cp = s[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void emit_json_string(FILE *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t end = strnlen(s, n);

	fputc('"', out);
	for (size_t i = 0; i < end;) {
		unsigned char c = p[i];
		size_t len;

		if (c == '"' || c == '\\') {
			fputc('\\', out);
			fputc(c, out);
			i++;
		} else if (c == '\n') {
			fputs("\\n", out);
			i++;
		} else if (c == '\t') {
			fputs("\\t", out);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(out, "\\u%04x", c);
			i++;
		} else if ((len = utf8_len(p + i, end - i)) > 0) {
			fwrite(p + i, 1, len, out);
			i += len;
		} else {
			fprintf(out, "\\u%04x", c); /* not UTF-8: read it as Latin-1 */
			i++;
		}
	}
	fputc('"', out);
}

int emit_flush(FILE *out)
{
	return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}

static int finish(FILE *out)
{
	fputc('\n', out);
	return emit_flush(out);
}

/* The end of an event record: its count when coalesced, no flush. */
static int end_record(FILE *out, unsigned int count)
{
	if (count)
		fprintf(out, ",\"count\":%u", count);
	fputs("}\n", out);
	return ferror(out) ? -1 : 0;
}

static int emit_printk(FILE *out, const struct hcs_printk_event *ev, unsigned int count)
{
	size_t len = ev->len < HCS_MSG_MAX ? ev->len : HCS_MSG_MAX;

	while (len > 0 && ev->msg[len - 1] == '\n')
		len--;
	fprintf(out, "{\"type\":\"printk\",\"ts_ns\":%llu,\"msg\":", (unsigned long long)ev->ts_ns);
	emit_json_string(out, ev->msg, len);
	return end_record(out, count);
}

static int emit_aer(FILE *out, const struct hcs_aer_event *ev, unsigned int count)
{
	fprintf(out, "{\"type\":\"aer\",\"ts_ns\":%llu,\"dev\":", (unsigned long long)ev->ts_ns);
	emit_json_string(out, ev->dev, sizeof(ev->dev));
	fprintf(out, ",\"status\":%u,\"severity\":%u,\"tlp_header_valid\":%s", ev->status,
		ev->severity, ev->tlp_header_valid ? "true" : "false");
	fprintf(out, ",\"tlp_header\":[%u,%u,%u,%u]", ev->tlp_header[0], ev->tlp_header[1],
		ev->tlp_header[2], ev->tlp_header[3]);
	return end_record(out, count);
}

static int emit_ioctl(FILE *out, const struct hcs_ioctl_event *ev, unsigned int count)
{
	fprintf(out, "{\"type\":\"ioctl\",\"ts_ns\":%llu,\"pid\":%u,\"tid\":%u,\"comm\":",
		(unsigned long long)ev->ts_ns, ev->pid, ev->tid);
	emit_json_string(out, ev->comm, sizeof(ev->comm));
	fputs(",\"file\":", out);
	emit_json_string(out, ev->file, sizeof(ev->file));
	fprintf(out, ",\"cmd\":%u,\"latency_us\":%llu", ev->cmd,
		(unsigned long long)(ev->latency_ns / 1000));
	return end_record(out, count);
}

int emit_record(FILE *out, const void *data, size_t size, unsigned int count)
{
	__u32 kind;

	if (size < sizeof(kind))
		return 0;
	memcpy(&kind, data, sizeof(kind));
	if (kind == HCS_EV_PRINTK && size >= sizeof(struct hcs_printk_event))
		return emit_printk(out, data, count);
	if (kind == HCS_EV_AER && size >= sizeof(struct hcs_aer_event))
		return emit_aer(out, data, count);
	if (kind == HCS_EV_IOCTL && size >= sizeof(struct hcs_ioctl_event))
		return emit_ioctl(out, data, count);
	return 0;
}

int emit_attach(FILE *out, const char *program, const char *error)
{
	fputs("{\"type\":\"attach\",\"program\":", out);
	emit_json_string(out, program, strlen(program));
	if (error) {
		fputs(",\"ok\":false,\"error\":", out);
		emit_json_string(out, error, strlen(error));
	} else {
		fputs(",\"ok\":true", out);
	}
	fputc('}', out);
	return finish(out);
}

int emit_line(FILE *out, const char *json)
{
	fputs(json, out);
	return finish(out);
}

int emit_lost(FILE *out, unsigned long long total)
{
	fprintf(out, "{\"type\":\"lost\",\"total\":%llu}", total);
	return finish(out);
}
