/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `runm-vmm vhost-user`: serve device-library devices to another VMM (QEMU)
 * over vhost-user.
 *
 *   runm-vmm vhost-user {--socket PATH | --fd N} --device SPEC [... --device SPEC]...
 *                       [--ready-fd FD] [--no-seccomp] [--debug]
 *
 * Each --socket/--device pair is one device on its own listening socket (the
 * frontend connects; one connection per device). With --fd N instead, N is
 * one end of a connected socket pair whose other end the frontend holds (no
 * socket file at all). When every socket listens,
 * "1" is written to FD (if given) and FD closed. The server exits when a
 * connected frontend goes away (status 0), on SIGTERM/SIGINT (0), or on a
 * protocol violation (1); it removes its sockets in every case. Once its
 * devices and sockets are open it drops capabilities (an fs server keeps the
 * file ones) and installs the event-loop seccomp filter of vmm/sandbox.c.
 */
#ifndef RUNM_VHOST_USER_H
#define RUNM_VHOST_USER_H

/* argv[0] is "vhost-user". Returns the process exit status. */
int vhost_user_main(int argc, char **argv);

#endif
