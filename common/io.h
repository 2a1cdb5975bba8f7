/* SPDX-License-Identifier: Apache-2.0 */
/* Basic I/O written once for runm, runm-vmm and runm-agent: a monotonic clock, whole-file
 * reads with a limit, write-everything loops, a line reader and fd passing over AF_UNIX.
 *
 * Errors follow one rule: functions returning int give 0 (or a count) on success and
 * -errno on failure; functions returning a pointer give NULL and set errno. EINTR is retried
 * everywhere. Nothing here logs: the caller says what failed on what. */
#ifndef RUNM_COMMON_IO_H
#define RUNM_COMMON_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Milliseconds on CLOCK_MONOTONIC (deadlines, timeouts, durations). */
long long io_now_ms(void);

/* Remaining milliseconds until DEADLINE_MS (io_now_ms based), never below 0; -1 (no limit)
 * when DEADLINE_MS < 0. For poll(2)'s timeout. */
int io_ms_left(long long deadline_ms);

/* Everything readable from FD up to EOF, NUL-terminated (the NUL is not counted in *LEN,
 * which may be NULL). More than MAX bytes: NULL with EFBIG. */
char *io_read_fd(int fd, size_t max, size_t *len);

/* The same for the file at PATH (opened O_RDONLY|O_CLOEXEC, closed again). */
char *io_read_file(const char *path, size_t max, size_t *len);

/* Relative to directory fd DIRFD (AT_FDCWD: the working directory). */
char *io_read_file_at(int dirfd, const char *path, size_t max, size_t *len);

/* Write all LEN bytes of BUF to FD. A socket is written with MSG_NOSIGNAL (a peer that went
 * away is -EPIPE, never SIGPIPE). On a non-blocking FD, EAGAIN waits in poll for at most
 * TIMEOUT_MS per wait (-1: no limit) and gives -ETIMEDOUT when it runs out. */
int io_write_all_timeout(int fd, const void *buf, size_t len, int timeout_ms);

/* io_write_all_timeout with no limit. */
int io_write_all(int fd, const void *buf, size_t len);

/* Write the string S (without its NUL). */
int io_write_str(int fd, const char *s);

/* Write the whole of BUF to PATH atomically: a temporary file in the same directory, fsync'd
 * when DURABLE, renamed over PATH. MODE for a new file. */
int io_write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode, bool durable);

/* One '\n'-terminated line (without the '\n', NUL-terminated) of at most MAX bytes, read byte
 * by byte so that nothing after the line is consumed (the rest may be fds or a raw stream).
 * NULL with errno: ECONNRESET on EOF before any byte, EMSGSIZE when longer than MAX, ENOMEM,
 * or the read error (EAGAIN for a socket's SO_RCVTIMEO). EOF after some bytes ends the line. */
char *io_read_line(int fd, size_t max);

/* Send LEN bytes of BUF (at least one byte) with NFDS file descriptors (0..IO_MAX_FDS) in one
 * SCM_RIGHTS message on the AF_UNIX socket SOCK. 0 or -errno. */
#define IO_MAX_FDS 16
int io_send_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds);

/* Receive one message of at most CAP bytes into BUF with up to MAXFDS descriptors (received
 * close-on-exec). Returns the byte count (0 at EOF) and sets *NFDS; -errno on failure.
 * Descriptors beyond MAXFDS, or in a truncated control message, are closed and the call fails
 * with -EMSGSIZE: a hostile peer cannot leave fds behind in this process. */
ssize_t io_recv_fds(int sock, void *buf, size_t cap, int *fds, size_t maxfds, size_t *nfds);

/* The first executable NAME in $PATH (unset: /usr/local/bin:/usr/bin:/bin), its path in OUT.
 * NAME with a '/' is taken as it is. false when there is none or it does not fit. */
bool io_find_in_path(const char *name, char *out, size_t cap);

#endif
