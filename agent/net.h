/* SPDX-License-Identifier: Apache-2.0 */
/* Container networking (net.c); net_lo_up, a child-side step, is in setup.h. */
#ifndef RUNM_AGENT_NET_H
#define RUNM_AGENT_NET_H

#include <stddef.h>

struct proto_net;
/* The "network" op: move the NICs of N (found by match_mac in the calling thread's netns, or
 * already in TARGET_NS by name) into the netns TARGET_NS (an fd of /proc/PID/ns/net), rename,
 * set MAC and MTU, IPv6 DAD/autoconf/RA off, addresses, up; lo up; link routes, gateway
 * routes, permanent neighbours.  Idempotent.  The calling thread ends in its own netns.
 * 0, or -1 with ERR ("network: eth0: add address fd00::2/64: File exists"). */
int net_apply(int target_ns, const struct proto_net *n, char *err, size_t errlen);

#endif
