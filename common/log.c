/* SPDX-License-Identifier: Apache-2.0 */
#include "log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *prog = "runm";
static int sink_fd = -1;
static int sink_json;
static int debug_on;

void log_set_prog(const char *p)
{
	prog = p;
}
const char *log_prog(void)
{
	return prog;
}
void log_set_sink(int fd, int json)
{
	sink_fd = fd;
	sink_json = json;
}
void log_set_debug(int on)
{
	debug_on = on;
}
int log_debug_enabled(void)
{
	return debug_on;
}

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

/* One write per line, so that lines of processes sharing the file (the CLI, the shim, exec
 * shims: O_APPEND) never interleave; a line cut short still ends with a newline. */
static void write_line(int fd, char *line, size_t cap, int n)
{
	size_t len = n < 0 ? 0 : (size_t)n;
	if (len >= cap - 1)
		len = cap - 2;
	if (len == 0 || line[len - 1] != '\n')
		line[len++] = '\n';
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, line + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		off += (size_t)w;
	}
}

void log_verror(const char *level, int err, const char *fmt, va_list ap)
{
	char msg[4096];
	int saved = errno;
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	if (err)
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", strerror(err));

	char line[8192 + 128];
	/* as runc: with a log file, only errors also go to stderr; debug lines and warnings go to
	 * the file alone (they must not mix into a container's or exec'd process's stderr) */
	bool is_error = strcmp(level, "error") == 0;
	if (is_error) {
		n = snprintf(line, sizeof(line) - 1, "%s: %s", prog, msg);
		write_line(STDERR_FILENO, line, sizeof(line), n);
	} else if (sink_fd < 0) {
		n = snprintf(line, sizeof(line) - 1, "%s: %s: %s", prog, level, msg);
		write_line(STDERR_FILENO, line, sizeof(line), n);
	}
	if (sink_fd < 0) {
		errno = saved;
		return;
	}
	char esc[8192], ts[40];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_escape(esc, sizeof(esc), msg);
	/* runc's (logrus') lines: JSON, or time="…" level=… msg="…" */
	if (sink_json)
		n = snprintf(line, sizeof(line) - 1, "{\"level\":\"%s\",\"msg\":\"%s\",\"time\":\"%s\"}",
			     level, esc, ts);
	else
		n = snprintf(line, sizeof(line) - 1, "time=\"%s\" level=%s msg=\"%s\"", ts, level, esc);
	write_line(sink_fd, line, sizeof(line), n);
	errno = saved;
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
