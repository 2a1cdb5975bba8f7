/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runm-fusemount: serve a directory through the virtio-fs FUSE server on a
 * host FUSE mount (/dev/fuse). The same dispatch code that answers the guest
 * answers the host kernel here, which makes it testable end to end with real
 * programs and no VM.
 *
 *   runm-fusemount [--cache auto|always|none] DIR MOUNTPOINT
 *
 * Prints "ready" on stdout once mounted; serves until the mount goes away
 * (umount) or SIGTERM/SIGINT (then unmounts lazily). SIGUSR1 prints
 * "stats inodes=N handles=M requests=R" on stdout (tests check lookup
 * bookkeeping against the real kernel with it). Needs CAP_SYS_ADMIN.
 */
#include "fs.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static volatile sig_atomic_t stop, want_stats;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_stats = 1;
	else
		stop = 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: runm-fusemount [--cache auto|always|none] DIR MOUNTPOINT\n");
	return 2;
}

int main(int argc, char **argv)
{
	log_set_prog("runm-fusemount");
	int cache = FS_CACHE_AUTO, i = 1;
	if (i + 1 < argc && !strcmp(argv[i], "--cache")) {
		cache = fs_cache_parse(argv[i + 1]);
		if (cache < 0) {
			log_error("--cache %s: expected auto, always or none", argv[i + 1]);
			return 2;
		}
		i += 2;
	}
	if (argc - i != 2)
		return usage();
	const char *dir = argv[i], *mnt = argv[i + 1];
	char err[512];
	struct fs_server *s = fs_server_new(dir, (enum fs_cache)cache, err, sizeof(err));
	if (!s) {
		log_error("%s", err);
		return 1;
	}
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		log_errno(errno, "open /dev/fuse");
		fs_server_free(s);
		return 1;
	}
	struct stat st;
	if (stat(mnt, &st) < 0) {
		log_errno(errno, "stat mount point %s", mnt);
		return 1;
	}
	char opts[256];
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=%o,user_id=0,group_id=0,allow_other,default_permissions",
		 fd, st.st_mode & S_IFMT);
	if (mount("runm-fs", mnt, "fuse.runm-fs", MS_NOSUID | MS_NODEV, opts) < 0) {
		log_errno(errno, "mount fuse on %s", mnt);
		fs_server_free(s);
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: read() returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	printf("ready\n");
	fflush(stdout);

	size_t bufsz = FS_MAX_WRITE + 4096, repsz = FS_MAX_WRITE + 4096;
	uint8_t *buf = malloc(bufsz), *rep = malloc(repsz);
	if (!buf || !rep) {
		free(buf);
		free(rep);
		log_error("out of memory");
		umount2(mnt, MNT_DETACH);
		return 1;
	}
	int rc = 0;
	while (!stop) {
		if (want_stats) {
			want_stats = 0;
			struct fs_stats fst;
			fs_server_stats(s, &fst);
			printf("stats inodes=%llu handles=%llu requests=%llu\n",
			       (unsigned long long)fst.inodes, (unsigned long long)fst.handles,
			       (unsigned long long)fst.requests);
			fflush(stdout);
		}
		ssize_t n = read(fd, buf, bufsz);
		if (n < 0) {
			if (errno == EINTR || errno == ENOENT || errno == EAGAIN)
				continue; /* ENOENT: the request was interrupted */
			if (errno == ENODEV)
				break; /* unmounted */
			log_errno(errno, "read /dev/fuse");
			rc = 1;
			break;
		}
		struct iovec req = {buf, (size_t)n}, out = {rep, repsz};
		ssize_t m = fs_server_handle(s, &req, 1, &out, 1);
		if (m <= 0)
			continue;
		if (write(fd, rep, (size_t)m) < 0 && errno != ENOENT) {
			if (errno == ENODEV)
				break;
			log_errno(errno, "write /dev/fuse");
		}
	}
	if (stop)
		umount2(mnt, MNT_DETACH);
	free(buf);
	free(rep);
	close(fd);
	fs_server_free(s);
	return rc;
}
