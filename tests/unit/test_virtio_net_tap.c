/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net device options and host ends: what a constructor refuses (and
 * that a refused fd is left alone), and the device on a real tap it opens by
 * name in a private network namespace: the vnet header size set at
 * activation, frames out of and into the interface, tun and header-less taps
 * refused.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/net_guest.h"

static void expect_create_error(const char *spec, const char *msg)
{
	char err[256] = "";
	struct virtio_dev *d = virtio_dev_create(spec, loop, err, sizeof(err));
	if (d)
		fail_msg("%s: created", spec);
	if (!strstr(err, msg))
		fail_msg("%s: error '%s' lacks '%s'", spec, err, msg);
}

static void test_create_errors(void **state)
{
	char spec[128], msg[128];
	expect_create_error("net", "no host end");
	snprintf(spec, sizeof(spec), "net,sockfd=%d,tap=x", devfd);
	expect_create_error(spec, "more than one host end");
	snprintf(spec, sizeof(spec), "net,sockfd=%d,mac=", devfd);
	expect_create_error(spec, "six hex pairs");
	snprintf(spec, sizeof(spec), "net,sockfd=%d,mac=02:11:22:33:44", devfd);
	expect_create_error(spec, "six hex pairs");
	snprintf(spec, sizeof(spec), "net,sockfd=%d,mac=02:11:22:33:44:5g", devfd);
	expect_create_error(spec, "six hex pairs");
	snprintf(spec, sizeof(spec), "net,sockfd=%d,mac=02:11:22:33:44:55:66", devfd);
	expect_create_error(spec, "six hex pairs");
	snprintf(spec, sizeof(spec), "net,sockfd=%d,mac=01:00:5e:00:00:01", devfd);
	expect_create_error(spec, "multicast");
	snprintf(spec, sizeof(spec), "net,sockfd=%d,mac=00:00:00:00:00:00", devfd);
	expect_create_error(spec, "all-zero");
	snprintf(spec, sizeof(spec), "net,sockfd=%d,mtu=67", devfd);
	expect_create_error(spec, "mtu=67: a number from 68 to 65535");
	snprintf(spec, sizeof(spec), "net,sockfd=%d,mtu=65536", devfd);
	expect_create_error(spec, "mtu=65536");
	snprintf(spec, sizeof(spec), "net,sockfd=%d,mtu=-1", devfd);
	expect_create_error(spec, "mtu=-1");
	snprintf(spec, sizeof(spec), "net,sockfd=%d,sockfd=%d", devfd, devfd);
	expect_create_error(spec, "sockfd given twice");
	snprintf(spec, sizeof(spec), "net,sockfd=%d,mtu=1500,mtu=9000", devfd);
	expect_create_error(spec, "mtu given twice");
	snprintf(spec, sizeof(spec), "net,sockfd=%d,speed=10", devfd);
	expect_create_error(spec, "unknown option 'speed'");
	expect_create_error("net,tapfd=x", "tapfd=x: a file descriptor number");
	expect_create_error("net,tap=", "tap=: an interface name");
	expect_create_error("net,tap=a-name-far-too-long", "an interface name of 1 to 15 bytes");
	/* tapfd that is not a tap: the fd is left alone */
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	snprintf(spec, sizeof(spec), "net,tapfd=%d", null);
	snprintf(msg, sizeof(msg), "tapfd=%d: not a tap device", null);
	expect_create_error(spec, msg);
	assert_int_equal(fcntl(null, F_GETFL) & O_NONBLOCK, 0);
	close(null);
	snprintf(spec, sizeof(spec), "net,tapfd=%d", null);
	snprintf(msg, sizeof(msg), "tapfd=%d: not an open file descriptor", null);
	expect_create_error(spec, msg);
	/* /dev/net/tun opened but never attached */
	int tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (tun >= 0) {
		snprintf(spec, sizeof(spec), "net,tapfd=%d", tun);
		expect_create_error(spec, "attached to no device");
		close(tun);
	}
	/* sockets of the wrong kind */
	int st[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, st), 0);
	snprintf(spec, sizeof(spec), "net,sockfd=%d", st[0]);
	expect_create_error(spec, "SOCK_SEQPACKET or SOCK_DGRAM socket expected");
	close(st[0]);
	close(st[1]);
	int lone = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(spec, sizeof(spec), "net,sockfd=%d", lone);
	expect_create_error(spec, "not connected");
	close(lone);
	snprintf(spec, sizeof(spec), "net,sockfd=%d", devfd);
	assert_null(virtio_dev_create(spec, NULL, msg, sizeof(msg)));
	assert_non_null(strstr(msg, "needs an event loop"));
}

/* ------------------------------------------------------- a real tap */

static int child_tap_test(void)
{
	if (unshare(CLONE_NEWNET) < 0)
		return 77;
	loop = evloop_new(); /* the parent's epoll instance is shared: not that one */
	if (!loop)
		return 13;
	char err[256] = "";
	/* tap=NAME creates the tap; the device checks what it opened */
	struct virtio_dev *d = virtio_dev_create("net,tap=rt0,mac=02:00:00:00:00:07", loop, err, sizeof(err));
	if (!d) {
		fprintf(stderr, "tap create: %s\n", err);
		return 1;
	}
	int ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	struct ifreq ifr = {0};
	strcpy(ifr.ifr_name, "rt0");
	if (ps < 0 || ioctl(ps, SIOCGIFFLAGS, &ifr) < 0)
		return 2;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(ps, SIOCSIFFLAGS, &ifr) < 0 || ioctl(ps, SIOCGIFINDEX, &ifr) < 0)
		return 3;
	struct sockaddr_ll ll = {
	    .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = ifr.ifr_ifindex};
	if (bind(ps, (struct sockaddr *)&ll, sizeof(ll)) < 0)
		return 4;
	dev = d;
	memset(mem, 0, 0x10000);
	for (int i = 0; i < 2; i++)
		gq[i].avail_idx = gq[i].last_used = 0;
	net_rings(d);
	d->mem = &gm;
	d->transport = &tops;
	d->features_acked = F_ALL;
	if (d->ops->activate(d) != 0)
		return 5;
	/* activation set the 12-byte header: find the tap's fd through its TUNGETIFF */
	int fd = -1;
	for (int f = 3; f < 1024 && fd < 0; f++) {
		struct ifreq q = {0};
		if (ioctl(f, TUNGETIFF, &q) == 0 && !strcmp(q.ifr_name, "rt0"))
			fd = f;
	}
	int hs = 0;
	if (fd < 0 || ioctl(fd, TUNGETVNETHDRSZ, &hs) < 0 || hs != HDR)
		return 6;
	/* guest -> tap: the frame comes out of the interface */
	uint8_t frame[60];
	memset(frame, 0xff, 6);
	memcpy(frame + 6, "\x02\x00\x00\x00\x00\x07", 6);
	frame[12] = 0x88;
	frame[13] = 0xb5; /* local experimental ethertype */
	fill(frame + 14, sizeof(frame) - 14, 40);
	struct vhdr h = {0};
	tx_queue(0, &h, frame, sizeof(frame), true);
	d->ops->queue_notify(d, 1);
	uint8_t got[2000];
	ssize_t n = -1;
	for (int i = 0; i < 100; i++) {
		n = recv(ps, got, sizeof(got), MSG_DONTWAIT);
		if (n == (ssize_t)sizeof(frame) && !memcmp(got, frame, sizeof(frame)))
			break;
		pump(1);
	}
	if (n != (ssize_t)sizeof(frame) || memcmp(got, frame, sizeof(frame)))
		return 7;
	/* interface -> guest: with the header the tap writes in front */
	rx_post(0, 2);
	frame[13] = 0xb6;
	if (send(ps, frame, sizeof(frame), 0) != (ssize_t)sizeof(frame))
		return 8;
	uint32_t len = 0;
	int head = -1;
	for (int i = 0; i < 100; i++) {
		head = used_take(&gq[0], &len);
		if (head >= 0 && len == HDR + sizeof(frame) &&
		    !memcmp(rx_buf((unsigned)head) + HDR, frame, sizeof(frame)))
			break;
		if (head >= 0) { /* something else the kernel sent (IPv6 router solicitation...) */
			rx_post((unsigned)head, 1);
			head = -1;
		}
		pump(1);
	}
	if (head < 0)
		return 9;
	struct vhdr got_h;
	memcpy(&got_h, rx_buf((unsigned)head), HDR);
	if (got_h.num_buffers != 1 || got_h.gso_type != 0)
		return 10;
	virtio_dev_destroy(d);
	/* a tun and a tap without IFF_VNET_HDR are refused by tapfd= (a tap without
	 * IFF_NO_PI cannot be made here: this kernel's TUNGETIFF reports the flag) */
	static const short bad[] = {IFF_TUN | IFF_NO_PI | IFF_VNET_HDR, IFF_TAP | IFF_NO_PI};
	static const char *why[] = {"a tun (layer 3) device", "without IFF_VNET_HDR"};
	for (int i = 0; i < 2; i++) {
		int t = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
		struct ifreq r = {0};
		snprintf(r.ifr_name, sizeof(r.ifr_name), "bad%d", i);
		r.ifr_flags = bad[i];
		if (t < 0 || ioctl(t, TUNSETIFF, &r) < 0)
			return 11;
		char spec[64];
		snprintf(spec, sizeof(spec), "net,tapfd=%d", t);
		if (virtio_dev_create(spec, loop, err, sizeof(err)) || !strstr(err, why[i])) {
			fprintf(stderr, "%s: '%s'\n", spec, err);
			return 12;
		}
		close(t);
	}
	return 0;
}

static void test_real_tap_in_a_private_netns(void **state)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fflush(stdout);
		_exit(child_tap_test());
	}
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77) {
		print_message("no private network namespace here (unshare: needs CAP_SYS_ADMIN): skipped\n");
		skip();
	}
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, net_setup, net_teardown)
	    T(test_create_errors),
	    T(test_real_tap_in_a_private_netns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
