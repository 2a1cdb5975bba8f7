/* SPDX-License-Identifier: Apache-2.0 */
#include "state.h"

#include "disks.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "json.h"
#include "log.h"
#include "mounts.h"
#include "proto/proto.h"
#include "runm.h"
#include "version.h"

int state_dir(const char *id, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/%s", G.root, id);
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	return 0;
}

int ensure_root(void)
{
	char tmp[PATH_MAX];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s", G.root) >= sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0711) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

void rfc3339_now(char *out, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	char base[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, cap, "%s.%09ldZ", base, ts.tv_nsec);
}

int parse_stat_starttime(const char *line, unsigned long long *out)
{
	const char *p = strrchr(line, ')');
	if (!p)
		return -EINVAL;
	p++;
	/* after ")" come fields 3.. separated by single spaces; we want field 22 */
	int field = 2;
	while (*p && field < 22) {
		if (*p == ' ') {
			field++;
			while (*p == ' ')
				p++;
			continue;
		}
		p++;
	}
	if (field != 22 || *p < '0' || *p > '9')
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(p, &end, 10);
	if (errno || (*end != ' ' && *end != '\0' && *end != '\n'))
		return -EINVAL;
	*out = v;
	return 0;
}

int proc_start_time(pid_t pid, unsigned long long *out)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	int e = errno;
	close(fd);
	if (n <= 0)
		return n < 0 ? -e : -EINVAL;
	buf[n] = '\0';
	/* A zombie has exited: the container is stopped even though the pid exists. */
	const char *p = strrchr(buf, ')');
	if (p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'))
		return -ESRCH;
	return parse_stat_starttime(buf, out);
}

bool shim_alive(const struct cstate *st)
{
	unsigned long long t = 0;
	if (st->pid <= 0)
		return false;
	if (proc_start_time(st->pid, &t) < 0)
		return false;
	return t == st->start_time;
}

const char *state_status(const struct cstate *st)
{
	if (!strcmp(st->status, "stopped"))
		return "stopped";
	if (!shim_alive(st))
		return "stopped";
	return st->status;
}

int state_pid(const struct cstate *st)
{
	return strcmp(state_status(st), "stopped") ? st->pid : 0;
}

static void copy_str(char *dst, size_t cap, const yajl_val v)
{
	const char *s = YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
	if (s)
		snprintf(dst, cap, "%s", s);
}

int state_parse(const char *json, struct cstate *st, char *err, size_t errlen)
{
	memset(st, 0, sizeof(*st));
	st->exit_status = -1;
	yajl_val root = json_parse(json, strlen(json), err, errlen); /* bounded nesting */
	if (!root)
		return -EINVAL;
	if (!YAJL_IS_OBJECT(root)) {
		snprintf(err, errlen, "not a JSON object");
		yajl_tree_free(root);
		return -EINVAL;
	}
	copy_str(st->id, sizeof(st->id), json_get(root, "id", yajl_t_string));
	copy_str(st->bundle, sizeof(st->bundle), json_get(root, "bundle", yajl_t_string));
	copy_str(st->rootfs, sizeof(st->rootfs), json_get(root, "rootfs", yajl_t_string));
	copy_str(st->created, sizeof(st->created), json_get(root, "created", yajl_t_string));
	copy_str(st->owner, sizeof(st->owner), json_get(root, "owner", yajl_t_string));
	copy_str(st->status, sizeof(st->status), json_get(root, "status", yajl_t_string));
	yajl_val v = json_get(root, "pid", yajl_t_number);
	if (v && YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) >= 0 && YAJL_GET_INTEGER(v) < (1 << 30))
		st->pid = (int)YAJL_GET_INTEGER(v);
	v = json_get(root, "runm_start_time", yajl_t_string);
	const char *sv = v ? YAJL_GET_STRING(v) : NULL;
	if (sv)
		st->start_time = strtoull(sv, NULL, 10);
	v = json_get(root, "runm_exit_status", yajl_t_number);
	if (v && YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) >= -1 && YAJL_GET_INTEGER(v) < 512)
		st->exit_status = (int)YAJL_GET_INTEGER(v);
	v = json_get(root, "annotations", yajl_t_object);
	if (v) {
		for (size_t i = 0; i < v->u.object.len && st->nann < MAX_ANNOTATIONS; i++) {
			yajl_val av = v->u.object.values[i];
			const char *as = YAJL_IS_STRING(av) ? YAJL_GET_STRING(av) : NULL;
			if (!as)
				continue;
			st->ann_key[st->nann] = strdup(v->u.object.keys[i]);
			st->ann_val[st->nann] = strdup(as);
			if (!st->ann_key[st->nann] || !st->ann_val[st->nann]) {
				free(st->ann_key[st->nann]);
				free(st->ann_val[st->nann]);
				break;
			}
			st->nann++;
		}
	}
	yajl_tree_free(root);
	if (!st->id[0] || !st->status[0]) {
		snprintf(err, errlen, "missing id or status");
		state_free(st);
		return -EINVAL;
	}
	return 0;
}

int state_load(const char *id, struct cstate *st)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];
	int r = state_dir(id, dir, sizeof(dir));
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s/state.json", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			if (cap > (1u << 24)) {
				free(buf);
				close(fd);
				return -EFBIG;
			}
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				close(fd);
				return -ENOMEM;
			}
			buf = nb;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			r = -errno;
			free(buf);
			close(fd);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	char err[256] = "";
	r = state_parse(buf, st, err, sizeof(err));
	free(buf);
	if (r < 0)
		log_error("%s: corrupt state: %s", path, err);
	return r;
}

void state_free(struct cstate *st)
{
	for (int i = 0; i < st->nann; i++) {
		free(st->ann_key[i]);
		free(st->ann_val[i]);
	}
	st->nann = 0;
}

#define GS(g, s) yajl_gen_string(g, (const unsigned char *)(s), strlen(s))

char *state_to_json(const struct cstate *st, bool pretty, bool truth)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	if (!g)
		return NULL;
	yajl_gen_config(g, yajl_gen_beautify, pretty ? 1 : 0);
	yajl_gen_config(g, yajl_gen_indent_string, "  ");
	yajl_gen_map_open(g);
	GS(g, "ociVersion");
	GS(g, RUNM_OCI_VERSION);
	GS(g, "id");
	GS(g, st->id);
	GS(g, "pid");
	yajl_gen_integer(g, truth ? state_pid(st) : st->pid);
	GS(g, "status");
	GS(g, truth ? state_status(st) : st->status);
	GS(g, "bundle");
	GS(g, st->bundle);
	GS(g, "rootfs");
	GS(g, st->rootfs);
	GS(g, "created");
	GS(g, st->created);
	GS(g, "owner");
	GS(g, st->owner);
	GS(g, "annotations");
	yajl_gen_map_open(g);
	for (int i = 0; i < st->nann; i++) {
		GS(g, st->ann_key[i]);
		GS(g, st->ann_val[i]);
	}
	yajl_gen_map_close(g);
	if (!truth) {
		char t[32];
		snprintf(t, sizeof(t), "%llu", st->start_time);
		GS(g, "runm_start_time");
		GS(g, t);
		GS(g, "runm_exit_status");
		yajl_gen_integer(g, st->exit_status);
	}
	yajl_gen_map_close(g);
	return json_gen_take(g);
}

int state_save(const char *dir, const struct cstate *st)
{
	char tmp[PATH_MAX + 32], path[PATH_MAX + 16];
	snprintf(tmp, sizeof(tmp), "%s/.state.json.%d", dir, (int)getpid());
	snprintf(path, sizeof(path), "%s/state.json", dir);
	char *js = state_to_json(st, false, false);
	if (!js)
		return -ENOMEM;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		int e = errno;
		free(js);
		return -e;
	}
	size_t len = strlen(js), off = 0;
	int r = 0;
	while (off < len) {
		ssize_t n = write(fd, js + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		off += (size_t)n;
	}
	free(js);
	if (!r && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r)
		unlink(tmp);
	return r;
}

int state_lock(const char *dir, bool exclusive)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) < 0) {
		if (errno == EINTR)
			continue;
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int rm_rf(const char *path)
{
	char buf[PATH_MAX], err[PATH_MAX + 128];
	if ((size_t)snprintf(buf, sizeof(buf), "%s", path) >= sizeof(buf))
		return -ENAMETOOLONG;
	size_t l = strlen(buf);
	while (l > 1 && buf[l - 1] == '/')
		buf[--l] = '\0';
	char *slash = strrchr(buf, '/');
	const char *parent = slash ? (slash == buf ? "/" : buf) : ".", *name = slash ? slash + 1 : buf;
	if (slash && slash != buf)
		*slash = '\0';
	int dfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	int r = remove_tree_nox(dfd, name, err, sizeof(err));
	close(dfd);
	if (r < 0)
		log_error("remove %s: %s", path, err);
	return r;
}

int state_dir_remove(const char *dir)
{
	char expect[PATH_MAX], err[PATH_MAX + 128], canon[PATH_MAX], root[PATH_MAX];
	const char *slash = strrchr(dir, '/'), *id = slash ? slash + 1 : "";
	/* only ever <root>/<id>: nothing outside runm's own state directory */
	if (!valid_id(id) || state_dir(id, expect, sizeof(expect)) < 0 || strcmp(expect, dir)) {
		log_error("refusing to remove %s: not a container directory under --root %s", dir, G.root);
		return -EPERM;
	}
	int rfd = open(G.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0) {
		if (errno == ENOENT)
			return 0;
		log_errno(errno, "open state root %s", G.root);
		return -1;
	}
	struct stat st;
	if (fstatat(rfd, id, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		int e = errno;
		close(rfd);
		if (e == ENOENT)
			return 0;
		log_errno(e, "stat %s", dir);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		close(rfd);
		log_error("refusing to remove %s: %s", dir,
			  S_ISLNK(st.st_mode) ? "a symbolic link" : "not a directory");
		return -EPERM;
	}
	/* mountinfo lists real paths: the root canonical, the id (not a symlink) as it is */
	int r = -1;
	errno = 0;
	if (!realpath(G.root, root) || (size_t)snprintf(canon, sizeof(canon), "%s/%s",
							strcmp(root, "/") ? root : "", id) >= sizeof(canon)) {
		log_errno(errno ? errno : ENAMETOOLONG, "resolve state root %s", G.root);
		goto out;
	}
	/* a rootfs lent to a VM whose shim could not give it back (killed) goes back now */
	disks_restore_root(NULL, dir);
	if (unmount_tree(canon, err, sizeof(err)) < 0)
		log_error("container state %s: %s; what is still mounted stays", dir, err);
	/* whatever stays mounted is left in place, never deleted through */
	r = remove_tree_nox(rfd, id, err, sizeof(err));
	if (r < 0)
		log_error("remove container state %s/: %s", G.root, err);
out:
	close(rfd);
	return r < 0 ? -1 : 0;
}
