/* SPDX-License-Identifier: Apache-2.0 */
/* PID-1-only duties in the guest: basic mounts, clock, entropy, power-off. */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base.h"
#include "io.h"
#include "log.h"

int init_mount_basics(void)
{
	static const struct {
		const char *src, *dst, *type, *data;
		unsigned long flags;
	} m[] = {
	    {"proc", "/proc", "proc", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC},
	    {"sysfs", "/sys", "sysfs", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC},
	    {"devtmpfs", "/dev", "devtmpfs", "mode=0755", MS_NOSUID},
	    {"devpts", "/dev/pts", "devpts", "mode=0620,ptmxmode=0666,gid=5", MS_NOSUID | MS_NOEXEC},
	    {"shm", "/dev/shm", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV},
	    {"run", "/run", "tmpfs", "mode=0755", MS_NOSUID | MS_NODEV},
	    {"tmp", "/tmp", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV},
	    {"cgroup2", "/sys/fs/cgroup", "cgroup2", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC},
	};
	int rc = 0;
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		if (mkdir(m[i].dst, 0755) < 0 && errno != EEXIST) {
			log_errno(errno, "mkdir %s", m[i].dst);
			rc = -1;
			continue;
		}
		if (mount(m[i].src, m[i].dst, m[i].type, m[i].flags, m[i].data) < 0 && errno != EBUSY) {
			log_errno(errno, "mount %s on %s", m[i].type, m[i].dst);
			rc = -1;
		}
	}
	/* Controllers for the container's cgroup. */
	int fd = open("/sys/fs/cgroup/cgroup.subtree_control", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		static const char *const ctl[] = {"+cpu", "+memory", "+pids", "+io", "+cpuset"};
		for (size_t i = 0; i < sizeof(ctl) / sizeof(ctl[0]); i++)
			if (write(fd, ctl[i], strlen(ctl[i])) < 0)
				log_debug("enable controller %s: %s", ctl[i], strerror(errno));
		close(fd);
	}
	return rc;
}

bool init_cmdline_has(const char *word)
{
	char *buf = io_read_file("/proc/cmdline", 65536, NULL);
	if (!buf)
		return false;
	size_t wl = strlen(word);
	bool found = false;
	char *save = NULL;
	for (char *t = strtok_r(buf, " \n", &save); t && !found; t = strtok_r(NULL, " \n", &save))
		found = strncmp(t, word, wl) == 0 && (t[wl] == '\0' || t[wl] == '=');
	free(buf);
	return found;
}

int init_set_clock(long long unix_ns)
{
	struct timespec ts = {.tv_sec = unix_ns / 1000000000LL, .tv_nsec = unix_ns % 1000000000LL};
	return clock_settime(CLOCK_REALTIME, &ts);
}

void init_seed_entropy(const void *seed, size_t n)
{
	struct {
		int entropy_count, buf_size;
		unsigned char buf[256];
	} e;
	if (n > sizeof(e.buf))
		n = sizeof(e.buf);
	memcpy(e.buf, seed, n);
	e.buf_size = (int)n;
	e.entropy_count = (int)n * 8;
	int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (ioctl(fd, RNDADDENTROPY, &e) < 0)
		log_debug("seed entropy: %s", strerror(errno));
	close(fd);
}

void init_poweroff(void)
{
	sync();
	/* reboot=k on the kernel command line: the reset reaches the VMM, which exits. */
	reboot(RB_AUTOBOOT);
	log_errno(errno, "reboot");
	for (;;)
		pause();
}
