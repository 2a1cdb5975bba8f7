/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio-vsock device's private state, shared by vsock.c (virtqueues and
 * connection data) and vsock_uds.c (the hybrid UDS front: listener, host
 * clients before their CONNECT line, time-outs).
 */
#ifndef RUNM_VSOCK_PRIV_H
#define RUNM_VSOCK_PRIV_H

#include "vmm/devices/virtio.h"
#include "vmm/devices/vsock_conn.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#define VSOCK_Q_RX		    0
#define VSOCK_Q_TX		    1
#define VSOCK_Q_EVENT		    2
#define VSOCK_BUF_ALLOC		    (256 * 1024)
#define VSOCK_MAX_CLIENTS	    64
#define VSOCK_EVENT_TRANSPORT_RESET 0
#define VSOCK_DEFAULT_TIMEOUT_MS    5000 /* CONNECT line, and the guest's answer to a REQUEST */
#define VSOCK_TICK_MS		    100

struct vsock_client { /* host client that has not sent its CONNECT line yet */
	struct vsock_dev *v;
	int fd;
	unsigned len;
	uint64_t deadline;
	char line[40];
};

struct vsock_dev {
	struct virtio_dev dev;
	struct vsock_mux mux;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listen_fd;
	bool listen_given; /* listenfd=: the caller bound it and removes the file */
	bool rx_starved;
	bool reset_event;
	bool listen_paused; /* out of fds: accept again on the next tick */
	int timer_fd;
	bool timer_armed;
	uint32_t timeout_ms;
	struct vsock_client *clients[VSOCK_MAX_CLIENTS];
	uint8_t config[8];
	struct virtq_elem elem;
};

/* vsock.c: move what can move (control packets, data both ways, host actions). */
void vsock_run(struct vsock_dev *v);

/* vsock_uds.c */
int vsock_uds_bind(const char *path, char *err, size_t errlen);
void vsock_listen_cb(void *opaque, uint32_t events);
void vsock_timer_cb(void *opaque, uint32_t events);
void vsock_close_clients(struct vsock_dev *v);

#endif
