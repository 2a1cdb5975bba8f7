/* SPDX-License-Identifier: Apache-2.0 */
/* Mounts below a directory, and removal that never crosses one: see mounts.h. */
#include "mounts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define UNMOUNT_MAX_PASSES 64 /* each pass unmounts all it sees; more passes only for stacks */
#define REMOVE_MAX_DEPTH   128

ssize_t mountinfo_unescape(const char *in, size_t len, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '\0')
			return -EINVAL;
		if (c == '\\') {
			if (len - i < 4)
				return -EINVAL;
			unsigned v = 0;
			for (size_t k = 1; k <= 3; k++) {
				if (in[i + k] < '0' || in[i + k] > '7')
					return -EINVAL;
				v = v * 8 + (unsigned)(in[i + k] - '0');
			}
			if (v == 0 || v > 0xff)
				return -EINVAL;
			c = (unsigned char)v;
			i += 3;
		}
		if (o + 1 >= cap)
			return -ENAMETOOLONG;
		out[o++] = (char)c;
	}
	if (cap == 0)
		return -ENAMETOOLONG;
	out[o] = '\0';
	return (ssize_t)o;
}

/* The I-th (0-based) space-separated field of LINE: start and length, or NULL. */
static const char *field(const char *line, int i, size_t *len)
{
	const char *p = line;
	for (int k = 0; k < i; k++) {
		p = strchr(p, ' ');
		if (!p)
			return NULL;
		p++;
	}
	size_t n = strcspn(p, " \n");
	if (n == 0)
		return NULL;
	*len = n;
	return p;
}

/* Copy field [P, P+LEN) into OUT (CAP bytes), decoded when DECODE. 0 or -errno. */
static int take(const char *p, size_t len, bool decode, char *out, size_t cap)
{
	if (decode) {
		ssize_t r = mountinfo_unescape(p, len, out, cap);
		return r < 0 ? (int)r : 0;
	}
	if (len >= cap)
		return -ENAMETOOLONG;
	memcpy(out, p, len);
	out[len] = '\0';
	return 0;
}

int mountinfo_parse(const char *line, struct mountinfo_ent *e)
{
	size_t len = 0, rlen = 0, olen = 0;
	const char *mp = field(line, 4, &len), *root = field(line, 3, &rlen), *opts = field(line, 5, &olen);
	if (!mp || !root || !opts ||
	    sscanf(line, "%d %d %u:%u ", &e->id, &e->parent, &e->major, &e->minor) != 4)
		return -EINVAL;
	int r = take(mp, len, true, e->mount_point, sizeof(e->mount_point));
	if (!r)
		r = take(root, rlen, true, e->root, sizeof(e->root));
	if (!r)
		r = take(opts, olen, false, e->opts, sizeof(e->opts));
	if (r)
		return r;
	/* after the optional fields: " - fstype source super_opts" */
	e->fstype[0] = e->source[0] = e->super_opts[0] = '\0';
	const char *sep = strstr(opts + olen, " - ");
	if (!sep)
		return 0; /* older or test lines without the tail: the fields above are what is known */
	const char *t = sep + 3;
	size_t tlen = 0, slen = 0, solen = 0;
	const char *ft = field(t, 0, &tlen), *src = field(t, 1, &slen), *so = field(t, 2, &solen);
	if (!ft)
		return -EINVAL;
	r = take(ft, tlen, false, e->fstype, sizeof(e->fstype));
	if (!r && src)
		r = take(src, slen, true, e->source, sizeof(e->source));
	if (!r && so)
		r = take(so, solen, false, e->super_opts, sizeof(e->super_opts));
	return r;
}

static bool at_or_below(const char *path, const char *dir, size_t dl)
{
	if (dl == 1 && dir[0] == '/')
		return path[0] == '/';
	return !strncmp(path, dir, dl) && (path[dl] == '/' || path[dl] == '\0');
}

static size_t depth(const char *p)
{
	size_t d = 0;
	for (; *p; p++)
		d += *p == '/';
	return d;
}

static int deeper_first(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	size_t dx = depth(x), dy = depth(y);
	if (dx != dy)
		return dx < dy ? 1 : -1;
	size_t lx = strlen(x), ly = strlen(y);
	if (lx != ly)
		return lx < ly ? 1 : -1;
	return 0;
}

void mounts_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int mounts_below(const char *mi, const char *dir, char ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	FILE *f = fopen(mi ? mi : "/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	size_t dl = strlen(dir), cap = 0;
	char **v = NULL, *line = NULL;
	size_t lcap = 0;
	int r = 0;
	struct mountinfo_ent *e = malloc(sizeof(*e));
	if (!e)
		r = -ENOMEM;
	while (!r && getline(&line, &lcap, f) > 0) {
		if (mountinfo_parse(line, e) < 0 || !at_or_below(e->mount_point, dir, dl))
			continue;
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			char **nv = realloc(v, nc * sizeof(*nv));
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			v = nv;
			cap = nc;
		}
		if (!(v[*n] = strdup(e->mount_point))) {
			r = -ENOMEM;
			break;
		}
		(*n)++;
	}
	free(e);
	free(line);
	fclose(f);
	if (r) {
		mounts_free(v, *n);
		*n = 0;
		return r;
	}
	/* mountinfo lists parents before children and a stack bottom-up: reverse, then a stable
	 * order by depth keeps the topmost of a stack first */
	for (size_t i = 0; i < *n / 2; i++) {
		char *t = v[i];
		v[i] = v[*n - 1 - i];
		v[*n - 1 - i] = t;
	}
	for (size_t i = 1; i < *n; i++) /* insertion sort: stable, and the lists are short */
		for (size_t j = i; j > 0 && deeper_first(&v[j - 1], &v[j]) > 0; j--) {
			char *t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	*out = v;
	return 0;
}

static int fail(char *err, size_t errlen, int e, const char *what, const char *on)
{
	snprintf(err, errlen, "%s %s: %s", what, on, strerror(e));
	return -e;
}

int unmount_tree(const char *dir, char *err, size_t errlen)
{
	char real[PATH_MAX];
	if (!realpath(dir, real)) {
		if (errno == ENOENT)
			return 0;
		return fail(err, errlen, errno, "resolve", dir);
	}
	int last = 0;
	char stuck[PATH_MAX] = "";
	for (int pass = 0; pass < UNMOUNT_MAX_PASSES; pass++) {
		char **v;
		size_t n;
		int r = mounts_below(NULL, real, &v, &n);
		if (r < 0)
			return fail(err, errlen, -r, "read /proc/self/mountinfo for", real);
		if (n == 0) {
			mounts_free(v, n);
			return 0;
		}
		size_t done = 0;
		for (size_t i = 0; i < n; i++) {
			if (umount2(v[i], UMOUNT_NOFOLLOW) == 0 ||
			    (errno == EBUSY && umount2(v[i], MNT_DETACH | UMOUNT_NOFOLLOW) == 0)) {
				done++;
				continue;
			}
			/* EINVAL/ENOENT: hidden under (or gone with) another mount; the next pass sees */
			last = errno;
			snprintf(stuck, sizeof(stuck), "%s", v[i]);
		}
		mounts_free(v, n);
		if (done == 0)
			return fail(err, errlen, last ? last : EBUSY, "unmount", stuck);
	}
	return fail(err, errlen, EBUSY, "unmount everything below", real);
}

struct rm_ctx {
	char *err;
	size_t errlen;
	int first;
	char path[PATH_MAX]; /* of the entry at hand, relative to where the removal started */
};

/* Keep the first failure (the removal goes on); returns -1. */
static int rm_fail(struct rm_ctx *c, int e, const char *what)
{
	if (c->first)
		return -1;
	c->first = -e;
	snprintf(c->err, c->errlen, "%s %s: %s", what, c->path, strerror(e));
	return -1;
}

static int xstat(int dfd, const char *name, int flags, struct statx *sx)
{
	if (statx(dfd, name, flags | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT,
		  STATX_TYPE | STATX_INO | STATX_MNT_ID, sx) < 0)
		return -errno;
	if (!(sx->stx_mask & STATX_MNT_ID))
		return -ENOSYS; /* Linux < 5.8: no way to tell a bind mount of the same filesystem */
	return 0;
}

static bool same_mount(const struct statx *a, const struct statx *b)
{
	return a->stx_mnt_id == b->stx_mnt_id && a->stx_dev_major == b->stx_dev_major &&
	       a->stx_dev_minor == b->stx_dev_minor;
}

static int rm_entry(int pfd, const char *name, const struct statx *parent, int lvl, struct rm_ctx *c);

/* Append /NAME to the path in C for the duration of one entry. */
static int rm_at(int pfd, const char *name, const struct statx *parent, int lvl, struct rm_ctx *c)
{
	size_t l = strlen(c->path);
	snprintf(c->path + l, sizeof(c->path) - l, "%s%s", l ? "/" : "", name);
	int r = rm_entry(pfd, name, parent, lvl, c);
	c->path[l] = '\0';
	return r;
}

static int rm_entry(int pfd, const char *name, const struct statx *parent, int lvl, struct rm_ctx *c)
{
	struct statx sx, fsx;
	int r = xstat(pfd, name, 0, &sx);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return rm_fail(c, -r, "stat (with its mount id)");
	if (!same_mount(&sx, parent))
		return rm_fail(c, EBUSY, "not removing a mount point:");
	if (!S_ISDIR(sx.stx_mode)) {
		/* the kernel refuses to unlink a mount point (EBUSY) should one appear meanwhile */
		if (unlinkat(pfd, name, 0) < 0 && errno != ENOENT)
			return rm_fail(c, errno, "remove");
		return 0;
	}
	if (lvl >= REMOVE_MAX_DEPTH)
		return rm_fail(c, ELOOP, "not removing a tree this deep:");
	int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return rm_fail(c, errno, "open");
	/* what we read is what we checked: no swap for a symlink or a mount in between */
	r = xstat(fd, "", AT_EMPTY_PATH, &fsx);
	if (r < 0 || !same_mount(&fsx, parent) || fsx.stx_ino != sx.stx_ino) {
		close(fd);
		return rm_fail(c, r < 0 ? -r : EBUSY, "not removing (changed or became a mount point):");
	}
	DIR *d = fdopendir(fd);
	if (!d) {
		r = rm_fail(c, errno, "read directory");
		close(fd);
		return r;
	}
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rm_at(dirfd(d), de->d_name, &fsx, lvl + 1, c);
	closedir(d);
	if (unlinkat(pfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return rm_fail(c, errno, "remove directory");
	return 0;
}

int remove_tree_nox(int dirfd, const char *name, char *err, size_t errlen)
{
	struct statx parent;
	struct rm_ctx c = {err, errlen, 0, ""};
	if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return fail(err, errlen, EINVAL, "remove: not a single path component:", name);
	int r = xstat(dirfd, dirfd == AT_FDCWD ? "." : "", dirfd == AT_FDCWD ? 0 : AT_EMPTY_PATH, &parent);
	if (r < 0)
		return fail(err, errlen, -r, "stat (with its mount id) the directory holding", name);
	rm_at(dirfd, name, &parent, 0, &c);
	return c.first;
}
