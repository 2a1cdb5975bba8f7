/* SPDX-License-Identifier: Apache-2.0 */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *prog = "runm";
static int sink_fd = -1;
static int sink_json;
static int debug_on;

void log_set_prog(const char *p) { prog = p; }
const char *log_prog(void) { return prog; }
void log_set_sink(int fd, int json)
{
	sink_fd = fd;
	sink_json = json;
}
void log_set_debug(int on) { debug_on = on; }
int log_debug_enabled(void) { return debug_on; }

/* Append S to OUT as a JSON string body (without quotes). */
static size_t json_escape(char *out, size_t cap, const char *s)
{
	size_t n = 0;
	for (; *s && n + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c == '\n') {
			out[n++] = '\\';
			out[n++] = 'n';
		} else if (c < 0x20) {
			n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
		} else {
			out[n++] = (char)c;
		}
	}
	out[n] = '\0';
	return n;
}

void log_verror(const char *level, int err, const char *fmt, va_list ap)
{
	char msg[4096];
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	if (err)
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", strerror(err));

	if (strcmp(level, "error") == 0)
		dprintf(STDERR_FILENO, "%s: %s\n", prog, msg);
	else
		dprintf(STDERR_FILENO, "%s: %s: %s\n", prog, level, msg);
	if (sink_fd < 0)
		return;
	if (sink_json) {
		char esc[8192], ts[40];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_escape(esc, sizeof(esc), msg);
		dprintf(sink_fd, "{\"level\":\"%s\",\"msg\":\"%s\",\"time\":\"%s\"}\n", level, esc, ts);
	} else {
		dprintf(sink_fd, "%s: %s\n", level, msg);
	}
}

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_verror("error", 0, fmt, ap);
	va_end(ap);
}

void log_errno(int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_verror("error", err, fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_verror("warning", 0, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	if (!debug_on)
		return;
	va_list ap;
	va_start(ap, fmt);
	log_verror("debug", 0, fmt, ap);
	va_end(ap);
}
