/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mounts below a directory, and removal that never crosses one (issue 18).
 *
 * Removing a directory that still holds a bind mount deletes the bind's source: the
 * bundle's rootfs or a host volume. Everything that tears down runm's state goes through
 * unmount_tree (every mount at or below a directory, deepest first) and then
 * remove_tree_nox (which refuses to descend into, or remove, anything that is a mount).
 */
#ifndef RUNM_COMMON_MOUNTS_H
#define RUNM_COMMON_MOUNTS_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

/* Decode the octal escapes the kernel writes in /proc/PID/mountinfo path fields (\040
 * space, \011 tab, \012 newline, \134 backslash; any \ooo up to \377) from IN[0..LEN) into
 * OUT, NUL-terminated. Returns the decoded length, -EINVAL for a malformed escape or one
 * that decodes to NUL, -ENAMETOOLONG when OUT (CAP bytes) is too small. */
ssize_t mountinfo_unescape(const char *in, size_t len, char *out, size_t cap);

struct mountinfo_ent {
	int id, parent;
	unsigned major, minor;
	char root[PATH_MAX];	    /* decoded: the path in its file system that is mounted */
	char mount_point[PATH_MAX]; /* decoded */
	char opts[256];		    /* the mount's own options ("rw,nosuid,relatime") */
	char fstype[64];
	char source[PATH_MAX]; /* decoded ("/dev/loop0", "none") */
	char super_opts[512];  /* the file system's options ("rw,errors=remount-ro") */
};

/* Parse one mountinfo line ("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root
 * rw,errors=continue"), with or without its '\n'. 0, or -EINVAL / -ENAMETOOLONG. */
int mountinfo_parse(const char *line, struct mountinfo_ent *e);

/* The mount points at or below DIR (absolute and canonical, as mountinfo shows paths) in the
 * mountinfo file MI (NULL: /proc/self/mountinfo), deepest first (for stacked mounts on one
 * path, the topmost first). *OUT is a malloc'd array of *N malloc'd strings (mounts_free).
 * 0 or -errno. */
int mounts_below(const char *mi, const char *dir, char ***out, size_t *n);
void mounts_free(char **v, size_t n);

/* Unmount every mount at or below DIR, deepest first, detaching lazily (MNT_DETACH) the busy
 * ones, re-reading mountinfo after each pass until none is left or a pass makes no progress.
 * DIR is canonicalised first (mountinfo lists real paths); a missing DIR is not an error.
 * 0, or -errno with ERR naming the mount that stays and why. */
int unmount_tree(const char *dir, char *err, size_t errlen);

/* Remove NAME (relative to DIRFD) and everything below it without ever following a symlink
 * and without descending into or removing a mount point: each entry's mount id (statx
 * STX_MNT_ID) and device are compared with its parent's before anything is done to it, and a
 * directory is checked again through the fd it is read from. What is a mount is left (with
 * the directories above it) and reported. A missing NAME is not an error. 0, or -errno with
 * ERR set for the first failure (the rest is still removed). */
int remove_tree_nox(int dirfd, const char *name, char *err, size_t errlen);

#endif
