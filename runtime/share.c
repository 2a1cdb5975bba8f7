/* SPDX-License-Identifier: Apache-2.0 */
/* Host-side shared directory for one container: see share.h. */
#include "share.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mounts.h"

static int fail(char *err, size_t n, int e, const char *what, const char *on)
{
	snprintf(err, n, "fs share: %s: %s: %s", what, on, strerror(e));
	return -e;
}

/* Bind src on dst (recursively), make it private, and read-only if asked. */
static int bind_one(const char *src, const char *dst, bool ro, char *err, size_t n)
{
	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
		return fail(err, n, errno, "bind mount", src);
	if (mount(NULL, dst, NULL, MS_PRIVATE | MS_REC, NULL) < 0)
		return fail(err, n, errno, "make mount private", dst);
	/* nosuid/nodev on the host side only: the guest still sees (and applies)
	 * set-id bits and creates device nodes, but nothing the guest made there
	 * can be used through the share by the host. */
	unsigned long fl = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | (ro ? MS_RDONLY : 0);
	if (mount(NULL, dst, NULL, fl, NULL) < 0)
		return fail(err, n, errno, ro ? "remount read-only, nosuid, nodev" : "remount nosuid, nodev",
			    dst);
	return 0;
}

static int make_point(const char *src, const char *dst, char *err, size_t n)
{
	struct stat st;
	if (stat(src, &st) < 0)
		return fail(err, n, errno, "stat bind source", src);
	if (S_ISDIR(st.st_mode)) {
		if (mkdir(dst, 0755) < 0)
			return fail(err, n, errno, "mkdir", dst);
	} else {
		int fd = open(dst, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0)
			return fail(err, n, errno, "create", dst);
		close(fd);
	}
	return 0;
}

/* ---- entry names ---- */

/* Fields 1 (mount id), 4 (root) and 5 (mount point) of a mountinfo line, decoded. */
static int mi_fields(const char *line, int *id, char *root, char *mp, size_t cap)
{
	const char *f[6];
	const char *p = line;
	for (int i = 0; i < 6; i++) {
		f[i] = p;
		const char *sp = strchr(p, ' ');
		if (!sp && i < 5)
			return -EINVAL;
		p = sp ? sp + 1 : p + strlen(p);
	}
	*id = atoi(f[0]);
	if (mountinfo_unescape(f[3], (size_t)(f[4] - f[3] - 1), root, cap) < 0 ||
	    mountinfo_unescape(f[4], (size_t)(f[5] - f[4] - 1), mp, cap) < 0)
		return -EINVAL;
	return 0;
}

int fs_share_source_root(const char *mountinfo, const char *source, char *out, size_t cap)
{
	char rp[PATH_MAX];
	struct statx sx;
	if (!realpath(source, rp))
		return -errno;
	if (statx(AT_FDCWD, rp, AT_NO_AUTOMOUNT, STATX_MNT_ID, &sx) < 0)
		return -errno;
	if (!(sx.stx_mask & STATX_MNT_ID))
		return -ENOSYS;
	FILE *f = fopen(mountinfo ? mountinfo : "/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	char *line = NULL, *root = malloc(PATH_MAX), *mp = malloc(PATH_MAX);
	size_t ll = 0;
	int rc = -ENOENT;
	while (root && mp && getline(&line, &ll, f) > 0) {
		int id;
		line[strcspn(line, "\n")] = '\0';
		if (mi_fields(line, &id, root, mp, PATH_MAX) < 0 || (uint64_t)id != sx.stx_mnt_id)
			continue;
		size_t ml = strcmp(mp, "/") ? strlen(mp) : 0;
		if (strncmp(rp, mp, ml) || (rp[ml] && rp[ml] != '/'))
			break; /* not below its own mount point: renamed meanwhile */
		const char *rel = rp + ml;
		int n = snprintf(out, cap, "%s%s", strcmp(root, "/") || !*rel ? root : "", rel);
		rc = n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
		break;
	}
	if (!root || !mp)
		rc = -ENOMEM;
	free(line);
	free(root);
	free(mp);
	fclose(f);
	return rc;
}

/* A == B or A below B */
static bool at_or_below(const char *a, const char *b)
{
	size_t l = strlen(b);
	return !strncmp(a, b, l) && (a[l] == '\0' || a[l] == '/');
}

bool fs_share_entry_ok(const char *name, bool readonly, const struct fs_share_bind *prev, size_t n)
{
	static const char *const reserved[] = {"/rootfs", "/mounts", "/members"};
	size_t len = strlen(name);
	if (name[0] != '/' || len < 2 || len > FS_SHARE_ENTRY_MAX || name[len - 1] == '/' ||
	    strstr(name, "//") || strstr(name, "/./") || strstr(name, "/../") ||
	    !strcmp(name + len - 2, "/.") || (len >= 3 && !strcmp(name + len - 3, "/..")))
		return false;
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (at_or_below(name, reserved[i]))
			return false;
	for (size_t i = 0; i < n; i++) {
		if (!prev[i].entry)
			continue;
		if (!strcmp(name, prev[i].entry) && prev[i].readonly == readonly)
			return true; /* the same source bound twice alike: one entry */
		if (at_or_below(name, prev[i].entry) || at_or_below(prev[i].entry, name))
			return false;
	}
	return true;
}

int fs_share_name_bind(struct fs_share_bind *b, size_t i, char *err, size_t errlen)
{
	char *name = malloc(PATH_MAX);
	if (!name)
		return fail(err, errlen, ENOMEM, "name bind source", b[i].source);
	name[0] = '\0';
	int r = fs_share_source_root(NULL, b[i].source, name, PATH_MAX);
	if (r == -ENOENT || r == -EACCES || r == -ENOTDIR || r == -ELOOP) {
		free(name);
		return fail(err, errlen, -r, "stat bind source", b[i].source);
	}
	if (r < 0 || !fs_share_entry_ok(name, b[i].readonly, b, i))
		snprintf(name, PATH_MAX, "/mounts/%zu", i);
	b[i].entry = name;
	return 0;
}

void fs_share_free_names(struct fs_share_bind *b, size_t n)
{
	for (size_t i = 0; b && i < n; i++) {
		free(b[i].entry);
		b[i].entry = NULL;
	}
}

/* mkdir -p of the directories above SHARE_DIR/ENTRY (searchable by anyone: a container's
 * root in a user namespace maps no host id). */
static int make_parents(const char *share_dir, const char *entry, char *path, size_t cap, char *err, size_t n)
{
	if ((size_t)snprintf(path, cap, "%s%s", share_dir, entry) >= cap)
		return fail(err, n, ENAMETOOLONG, "path", entry);
	for (char *p = path + strlen(share_dir) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		int r = mkdir(path, 0711);
		int e = errno;
		*p = '/';
		if (r < 0 && e != EEXIST)
			return fail(err, n, e, "mkdir", path);
	}
	return 0;
}

/* An earlier bind has the entry of B[I] (the same source, alike): nothing more to mount. */
static bool entry_seen(const struct fs_share_bind *b, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (!strcmp(b[j].entry, b[i].entry))
			return true;
	return false;
}

static int prepare(const char *share_dir, const char *bundle_rootfs, bool rootfs_readonly,
		   const struct fs_share_bind *binds, size_t nbinds, bool nested, char *err, size_t errlen);

/* BINDS with every entry named: a copy when some are not (*COPY, to free). */
static int named(const struct fs_share_bind *binds, size_t nbinds, struct fs_share_bind **copy, char *err,
		 size_t errlen)
{
	*copy = NULL;
	bool all = true;
	for (size_t i = 0; i < nbinds; i++)
		all &= binds[i].entry != NULL;
	if (all)
		return 0;
	struct fs_share_bind *c = calloc(nbinds, sizeof(*c));
	if (!c)
		return fail(err, errlen, ENOMEM, "name bind sources", "");
	for (size_t i = 0; i < nbinds; i++) {
		c[i] = binds[i];
		c[i].entry = binds[i].entry ? strdup(binds[i].entry) : NULL;
		int r = binds[i].entry ? (c[i].entry ? 0 : fail(err, errlen, ENOMEM, "name", binds[i].source))
				       : fs_share_name_bind(c, i, err, errlen);
		if (r < 0) {
			fs_share_free_names(c, i + 1);
			free(c);
			return r;
		}
	}
	*copy = c;
	return 0;
}

static int prepare_named(const char *share_dir, const char *bundle_rootfs, bool rootfs_readonly,
			 const struct fs_share_bind *binds, size_t nbinds, bool nested, char *err,
			 size_t errlen)
{
	struct fs_share_bind *copy;
	int rc = named(binds, nbinds, &copy, err, errlen);
	if (rc < 0)
		return rc;
	rc = prepare(share_dir, bundle_rootfs, rootfs_readonly, copy ? copy : binds, nbinds, nested, err,
		     errlen);
	fs_share_free_names(copy, copy ? nbinds : 0);
	free(copy);
	return rc;
}

int fs_share_prepare(const char *share_dir, const char *bundle_rootfs, bool rootfs_readonly,
		     const struct fs_share_bind *binds, size_t nbinds, char *err, size_t errlen)
{
	return prepare_named(share_dir, bundle_rootfs, rootfs_readonly, binds, nbinds, false, err, errlen);
}

int fs_share_prepare_nested(const char *share_dir, const char *bundle_rootfs, bool rootfs_readonly,
			    const struct fs_share_bind *binds, size_t nbinds, char *err, size_t errlen)
{
	return prepare_named(share_dir, bundle_rootfs, rootfs_readonly, binds, nbinds, true, err, errlen);
}

static int prepare(const char *share_dir, const char *bundle_rootfs, bool rootfs_readonly,
		   const struct fs_share_bind *binds, size_t nbinds, bool nested, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int rc;
	if (mkdir(share_dir, 0711) < 0) /* searchable: the root of a user namespace maps no host id */
		return fail(err, errlen, errno, "mkdir", share_dir);
	/* A mount of its own, in a peer group of its own: nothing below propagates anywhere on the
	 * host, but what is mounted below later (a pod member's rootfs and volumes, docs/pods.md)
	 * reaches the jailed fs server, whose copy of the share is a slave of this one. */
	if (mount(share_dir, share_dir, NULL, MS_BIND, NULL) < 0) {
		rc = fail(err, errlen, errno, "bind mount", share_dir);
		rmdir(share_dir);
		return rc;
	}
	/* nested: already shared with the VM's share (and so with the fs server's copy) */
	if (!nested && (mount(NULL, share_dir, NULL, MS_PRIVATE, NULL) < 0 ||
			mount(NULL, share_dir, NULL, MS_SHARED, NULL) < 0)) {
		rc = fail(err, errlen, errno, "make mount a peer group of its own", share_dir);
		goto undo;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/rootfs", share_dir) >= sizeof(path)) {
		rc = fail(err, errlen, ENAMETOOLONG, "path", share_dir);
		goto undo;
	}
	if (mkdir(path, 0755) < 0) {
		rc = fail(err, errlen, errno, "mkdir", path);
		goto undo;
	}
	/* no bundle rootfs: the root is a drive (runtime/disks.h), the directory stays empty */
	rc = bundle_rootfs ? bind_one(bundle_rootfs, path, rootfs_readonly, err, errlen) : 0;
	if (rc)
		goto undo;
	for (size_t i = 0; i < nbinds; i++) {
		if (entry_seen(binds, i))
			continue;
		rc = make_parents(share_dir, binds[i].entry, path, sizeof(path), err, errlen);
		if (rc)
			goto undo;
		rc = make_point(binds[i].source, path, err, errlen);
		if (rc)
			goto undo;
		rc = bind_one(binds[i].source, path, binds[i].readonly, err, errlen);
		if (rc)
			goto undo;
	}
	return 0;
undo:;
	char ignored[256];
	fs_share_cleanup(share_dir, ignored, sizeof(ignored));
	return rc;
}

/* Remove what prepare made below SHARE: directories and empty files, in the mount of SHARE
 * only (mount ids compared); anything else stays and fails the cleanup. */
static int rm_skel(int pfd, const char *name, const struct statx *parent, const char *shown, int depth,
		   char *err, size_t n)
{
	struct statx sx;
	if (statx(pfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_TYPE | STATX_SIZE | STATX_MNT_ID,
		  &sx) < 0)
		return errno == ENOENT ? 0 : fail(err, n, errno, "stat", shown);
	if (!(sx.stx_mask & STATX_MNT_ID) || sx.stx_mnt_id != parent->stx_mnt_id)
		return fail(err, n, EBUSY, "not removing a mount point", shown);
	if (!S_ISDIR(sx.stx_mode)) {
		if (!S_ISREG(sx.stx_mode) || sx.stx_size)
			return fail(err, n, ENOTEMPTY, "not removing what runm did not make", shown);
		return unlinkat(pfd, name, 0) < 0 && errno != ENOENT ? fail(err, n, errno, "remove", shown)
								     : 0;
	}
	if (depth > 256)
		return fail(err, n, ELOOP, "remove", shown);
	int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return fail(err, n, e, "open", shown);
	}
	int rc = 0;
	struct dirent *de;
	char *sub = malloc(PATH_MAX);
	while (sub && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(sub, PATH_MAX, "%s/%s", shown, de->d_name);
		int r = rm_skel(dirfd(d), de->d_name, &sx, sub, depth + 1, err, n);
		if (r && !rc)
			rc = r;
	}
	if (!sub)
		rc = fail(err, n, ENOMEM, "remove", shown);
	free(sub);
	closedir(d);
	if (!rc && unlinkat(pfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		rc = fail(err, n, errno, "remove", shown);
	return rc;
}

static int remove_skeleton(const char *share_dir, char *err, size_t n)
{
	char parent[PATH_MAX];
	const char *slash = strrchr(share_dir, '/'), *base = slash ? slash + 1 : share_dir;
	snprintf(parent, sizeof(parent), "%.*s", slash ? (int)(slash - share_dir) : 1,
		 slash ? share_dir : ".");
	if (!parent[0])
		snprintf(parent, sizeof(parent), "/");
	int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return fail(err, n, errno, "open", parent);
	struct statx psx;
	int rc = statx(pfd, "", AT_EMPTY_PATH, STATX_MNT_ID, &psx) < 0 ? fail(err, n, errno, "stat", parent)
		 : !(psx.stx_mask & STATX_MNT_ID) ? fail(err, n, ENOSYS, "stat (mount id)", parent)
						  : rm_skel(pfd, base, &psx, share_dir, 0, err, n);
	close(pfd);
	return rc;
}

int fs_share_cleanup(const char *share_dir, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(share_dir, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return fail(err, errlen, errno, "stat", share_dir);
	}
	/* every mount below, deepest first, by decoded mountinfo paths (common/mounts.h) */
	char uerr[PATH_MAX + 128];
	if (unmount_tree(share_dir, uerr, sizeof(uerr)) < 0) {
		snprintf(err, errlen, "fs share: %s", uerr);
		return -EBUSY;
	}
	return remove_skeleton(share_dir, err, errlen);
}
