/* SPDX-License-Identifier: Apache-2.0 */
/* Host end of virtio-net: tap checks, opening a tap by name, vnet header and offloads. */
#include "vmm/devices/net_tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(NET_TAP_OFF_CSUM == TUN_F_CSUM && NET_TAP_OFF_TSO4 == TUN_F_TSO4 &&
		   NET_TAP_OFF_TSO6 == TUN_F_TSO6 && NET_TAP_OFF_ECN == TUN_F_TSO_ECN,
	       "TUNSETOFFLOAD bits");

#define TAP_FLAGS (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)

int net_tap_check(int fd, char *name, char *err, size_t errlen)
{
	if (fcntl(fd, F_GETFD) < 0) {
		int e = errno;
		snprintf(err, errlen, "tapfd=%d: not an open file descriptor", fd);
		return -e;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
		int e = errno;
		if (e == EBADFD)
			snprintf(err, errlen, "tapfd=%d: a /dev/net/tun fd attached to no device", fd);
		else
			snprintf(err, errlen, "tapfd=%d: not a tap device (TUNGETIFF: %s)", fd, strerror(e));
		return e == EBADFD ? -EBADFD : -ENOTTY;
	}
	snprintf(name, IFNAMSIZ, "%.*s", IFNAMSIZ - 1, ifr.ifr_name);
	unsigned short fl = (unsigned short)ifr.ifr_flags;
	const char *miss = !(fl & IFF_TAP)	  ? "a tun (layer 3) device, not a tap"
			   : !(fl & IFF_NO_PI)	  ? "opened without IFF_NO_PI"
			   : !(fl & IFF_VNET_HDR) ? "opened without IFF_VNET_HDR"
						  : NULL;
	if (miss) {
		snprintf(err, errlen, "tapfd=%d (%s): %s (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR needed)", fd, name,
			 miss);
		return -EINVAL;
	}
	return 0;
}

int net_tap_open(const char *name, char *err, size_t errlen)
{
	struct ifreq ifr;
	if (!*name || strlen(name) >= IFNAMSIZ) {
		snprintf(err, errlen, "tap=%.32s: a name of 1 to %d bytes expected", name, IFNAMSIZ - 1);
		return -EINVAL;
	}
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "tap=%s: open /dev/net/tun: %s", name, strerror(e));
		return -e;
	}
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, strlen(name));
	ifr.ifr_flags = TAP_FLAGS;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		snprintf(err, errlen, "tap=%s: attach (TUNSETIFF IFF_TAP|IFF_NO_PI|IFF_VNET_HDR): %s%s", name,
			 strerror(e),
			 e == EPERM
			     ? " (creating a tap, or using one owned by another user, needs CAP_NET_ADMIN)"
			 : e == EINVAL ? " (an interface of that name exists and is not such a tap)"
			 : e == EBUSY  ? " (another process has it open)"
				       : "");
		close(fd);
		return -e;
	}
	return fd;
}

int net_sock_check(int fd, char *err, size_t errlen)
{
	struct stat st;
	int type = 0, domain = 0;
	socklen_t tl = sizeof(type), dl = sizeof(domain);
	struct sockaddr_storage peer;
	socklen_t pl = sizeof(peer);
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dl) < 0) {
		snprintf(err, errlen, "sockfd=%d: not an open socket", fd);
		return -ENOTSOCK;
	}
	if (domain != AF_UNIX || (type != SOCK_SEQPACKET && type != SOCK_DGRAM)) {
		snprintf(err, errlen, "sockfd=%d: an AF_UNIX SOCK_SEQPACKET or SOCK_DGRAM socket expected",
			 fd);
		return -EINVAL;
	}
	if (getpeername(fd, (struct sockaddr *)&peer, &pl) < 0) {
		int e = errno;
		snprintf(err, errlen, "sockfd=%d: not connected (%s)", fd, strerror(e));
		return -e;
	}
	return 0;
}

int net_tap_configure(int fd, unsigned hdr_len, unsigned offloads, char *err, size_t errlen)
{
	int sz = (int)hdr_len;
	if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) {
		int e = errno;
		snprintf(err, errlen, "tap fd %d: TUNSETVNETHDRSZ %d: %s", fd, sz, strerror(e));
		return -e;
	}
	if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)offloads) < 0) {
		int e = errno;
		snprintf(err, errlen, "tap fd %d: TUNSETOFFLOAD 0x%x: %s", fd, offloads, strerror(e));
		return -e;
	}
	return 0;
}
