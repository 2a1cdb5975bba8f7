/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host end of virtio-net: a tap opened with IFF_TAP|IFF_NO_PI|IFF_VNET_HDR
 * (frames with a virtio-net header in front, so guest headers pass through
 * unchanged), or a connected AF_UNIX datagram socket carrying the same frames
 * one per datagram (tests, userspace network stacks). All errors are one line
 * in err naming the fd or tap and why.
 */
#ifndef RUNM_NET_TAP_H
#define RUNM_NET_TAP_H

#include <stddef.h>

/* TUNSETOFFLOAD bits the device asks for (linux/if_tun.h values). */
#define NET_TAP_OFF_CSUM 0x01
#define NET_TAP_OFF_TSO4 0x02
#define NET_TAP_OFF_TSO6 0x04
#define NET_TAP_OFF_ECN	 0x08

/* 0 when fd is an attached tap opened with IFF_TAP|IFF_NO_PI|IFF_VNET_HDR;
 * its name goes to name (IFNAMSIZ bytes). Else -errno and why in err. */
int net_tap_check(int fd, char *name, char *err, size_t errlen);

/* Open /dev/net/tun and attach to (or create) tap `name` with
 * IFF_TAP|IFF_NO_PI|IFF_VNET_HDR. Returns a non-blocking close-on-exec fd or
 * -errno (creating needs CAP_NET_ADMIN; an existing tap needs to be ours). */
int net_tap_open(const char *name, char *err, size_t errlen);

/* 0 when fd is a connected AF_UNIX SOCK_SEQPACKET or SOCK_DGRAM socket. */
int net_sock_check(int fd, char *err, size_t errlen);

/* Activation: the tap's vnet header size (10 or 12) and offloads (NET_TAP_OFF_*,
 * what the guest accepts on receive). 0 or -errno with why in err. */
int net_tap_configure(int fd, unsigned hdr_len, unsigned offloads, char *err, size_t errlen);

#endif
