/* SPDX-License-Identifier: Apache-2.0 */
/* Error reporting shared by every runm program: "prog: what: on what: why". */
#ifndef RUNM_COMMON_LOG_H
#define RUNM_COMMON_LOG_H

#include <stdarg.h>

/* Program name printed before every message (default "runm"). */
void log_set_prog(const char *prog);
const char *log_prog(void);
/* Extra sink (--log): every line is written to FD, one write each, newline-terminated, as
 * runc's: json selects {"level":"error","msg":"…","time":"…"}, text time="…" level=… msg="…".
 * With a sink, only errors also go to stderr. fd < 0 disables. */
void log_set_sink(int fd, int json);
void log_set_debug(int on);
int log_debug_enabled(void);

/* "prog: <fmt>\n" on stderr (and the sink). Debug lines and warnings: stderr without a sink. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "prog: <fmt>: strerror(err)\n". */
void log_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_verror(const char *level, int err, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
