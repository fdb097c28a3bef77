/* JSON lines on stdout: the loader's whole protocol (README.md, "Protocol"). Status lines are
 * flushed at once; event records are flushed per batch read from the ring buffer. */
#ifndef HCS_EMIT_H
#define HCS_EMIT_H

#include <stddef.h>
#include <stdio.h>

/* Writes `s` (at most `n` bytes, stopping at a NUL) as a JSON string, quotes included:
 * quotes, backslashes and control bytes escaped, bytes that are not valid UTF-8 written as
 * \u00XX so that every line stays valid JSON whatever the kernel printed. */
void emit_json_string(FILE *out, const char *s, size_t n);

/* One ring buffer record -> one JSON line, with `"count":N` when count > 0 (a coalesced record
 * standing for N occurrences); unknown kinds are skipped. Buffered: emit_flush sends what was
 * written. Returns 0, or -1 when stdout is gone (the reader closed it). */
int emit_record(FILE *out, const void *data, size_t size, unsigned int count);
int emit_flush(FILE *out);

int emit_attach(FILE *out, const char *program, const char *error);
int emit_line(FILE *out, const char *json);
int emit_lost(FILE *out, unsigned long long total);

#endif
