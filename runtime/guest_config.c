/* SPDX-License-Identifier: Apache-2.0 */
/* config.json as the guest sees it: root.path points at the virtio-fs share of the host
 * rootfs, bind mounts of host files are staged into a shared directory, host directory binds
 * become extra virtio-fs shares, a /dev/shm bind becomes a guest tmpfs. */
#include "guest_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>

static void gs(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void gen_value(yajl_gen g, yajl_val v)
{
	if (YAJL_IS_STRING(v)) {
		gs(g, YAJL_GET_STRING(v) ? YAJL_GET_STRING(v) : "");
	} else if (YAJL_IS_INTEGER(v)) {
		yajl_gen_integer(g, YAJL_GET_INTEGER(v));
	} else if (YAJL_IS_NUMBER(v)) {
		const char *n = YAJL_GET_NUMBER(v);
		yajl_gen_number(g, n, strlen(n));
	} else if (YAJL_IS_TRUE(v)) {
		yajl_gen_bool(g, 1);
	} else if (YAJL_IS_FALSE(v)) {
		yajl_gen_bool(g, 0);
	} else if (YAJL_IS_OBJECT(v)) {
		yajl_gen_map_open(g);
		for (size_t i = 0; i < v->u.object.len; i++) {
			gs(g, v->u.object.keys[i]);
			gen_value(g, v->u.object.values[i]);
		}
		yajl_gen_map_close(g);
	} else if (YAJL_IS_ARRAY(v)) {
		yajl_gen_array_open(g);
		for (size_t i = 0; i < v->u.array.len; i++)
			gen_value(g, v->u.array.values[i]);
		yajl_gen_array_close(g);
	} else {
		yajl_gen_null(g);
	}
}

static const char *str_of(yajl_val obj, const char *key)
{
	const char *p[] = {key, NULL};
	yajl_val v = yajl_tree_get(obj, p, yajl_t_string);
	return v ? YAJL_GET_STRING(v) : NULL;
}

static bool is_bind(yajl_val m)
{
	const char *t = str_of(m, "type");
	if (t && !strcmp(t, "bind"))
		return true;
	const char *po[] = {"options", NULL};
	yajl_val o = yajl_tree_get(m, po, yajl_t_array);
	for (size_t i = 0; o && i < o->u.array.len; i++) {
		const char *s = YAJL_IS_STRING(o->u.array.values[i]) ? YAJL_GET_STRING(o->u.array.values[i]) : NULL;
		if (s && (!strcmp(s, "bind") || !strcmp(s, "rbind")))
			return true;
	}
	return false;
}

static int copy_file(const char *src, const char *dst)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		close(in);
		return -1;
	}
	char buf[65536];
	ssize_t n;
	int r = 0;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			r = -1;
			break;
		}
	if (n < 0)
		r = -1;
	struct stat sb;
	if (fstat(in, &sb) == 0)
		fchmod(out, sb.st_mode & 07777);
	close(in);
	close(out);
	return r;
}

/* One mount entry with a rewritten source/type (others copied verbatim). */
static void gen_mount(yajl_gen g, yajl_val m, const char *src, const char *type)
{
	yajl_gen_map_open(g);
	for (size_t i = 0; i < m->u.object.len; i++) {
		const char *k = m->u.object.keys[i];
		if ((src && !strcmp(k, "source")) || (type && !strcmp(k, "type")))
			continue;
		gs(g, k);
		gen_value(g, m->u.object.values[i]);
	}
	if (src) {
		gs(g, "source");
		gs(g, src);
	}
	if (type) {
		gs(g, "type");
		gs(g, type);
	}
	yajl_gen_map_close(g);
}

int guest_config(const struct spec *s, const char *dir, bool on_host, struct guest_shares *sh, char **out,
		 char *err, size_t errlen)
{
	memset(sh, 0, sizeof(*sh));
	*out = NULL;
	snprintf(sh->tag[0], sizeof(sh->tag[0]), "rootfs");
	snprintf(sh->host[0], sizeof(sh->host[0]), "%s", s->rootfs);
	snprintf(sh->guest[0], sizeof(sh->guest[0]), GUEST_SHARE_BASE "/rootfs");
	sh->n = 1;
	if (on_host) {
		/* the agent runs on the host (test harness): host paths as they are */
		sh->n = 0;
	}
	char staging[PATH_MAX];
	bool have_staging = false;
	int nfile = 0;
	snprintf(staging, sizeof(staging), "%s/binds", dir);
	yajl_gen g = yajl_gen_alloc(NULL);
	if (!g) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	yajl_gen_map_open(g);
	yajl_val root = s->root;
	for (size_t i = 0; i < root->u.object.len; i++) {
		const char *k = root->u.object.keys[i];
		yajl_val v = root->u.object.values[i];
		if (!strcmp(k, "root") && YAJL_IS_OBJECT(v)) {
			gs(g, k);
			yajl_gen_map_open(g);
			for (size_t j = 0; j < v->u.object.len; j++) {
				if (!strcmp(v->u.object.keys[j], "path"))
					continue;
				gs(g, v->u.object.keys[j]);
				gen_value(g, v->u.object.values[j]);
			}
			gs(g, "path");
			gs(g, on_host ? s->rootfs : sh->guest[0]);
			yajl_gen_map_close(g);
			continue;
		}
		if (strcmp(k, "mounts") || !YAJL_IS_ARRAY(v) || on_host) {
			/* hooks run on the host: the guest agent does not get them */
			if (strcmp(k, "hooks")) {
				gs(g, k);
				gen_value(g, v);
			}
			continue;
		}
		gs(g, k);
		yajl_gen_array_open(g);
		for (size_t j = 0; j < v->u.array.len; j++) {
			yajl_val m = v->u.array.values[j];
			const char *src = YAJL_IS_OBJECT(m) ? str_of(m, "source") : NULL;
			const char *dst = YAJL_IS_OBJECT(m) ? str_of(m, "destination") : NULL;
			struct stat sb;
			if (!src || !dst || !is_bind(m) || src[0] != '/') {
				gen_value(g, m);
				continue;
			}
			if (stat(src, &sb) < 0) {
				snprintf(err, errlen, "bind mount %s → %s: %s", src, dst, strerror(errno));
				goto fail;
			}
			if (!strcmp(dst, "/dev/shm") && S_ISDIR(sb.st_mode)) {
				/* the engine's shm lives on the host; a guest tmpfs is the honest equivalent */
				yajl_gen_map_open(g);
				gs(g, "destination");
				gs(g, "/dev/shm");
				gs(g, "type");
				gs(g, "tmpfs");
				gs(g, "source");
				gs(g, "shm");
				gs(g, "options");
				yajl_gen_array_open(g);
				gs(g, "nosuid");
				gs(g, "nodev");
				gs(g, "noexec");
				gs(g, "mode=1777");
				yajl_gen_array_close(g);
				yajl_gen_map_close(g);
				continue;
			}
			char gpath[PATH_MAX];
			if (S_ISDIR(sb.st_mode)) {
				if (sh->n >= GUEST_MAX_SHARES) {
					snprintf(err, errlen, "bind mount %s → %s: at most %d host directories can be shared "
						 "with a VM", src, dst, GUEST_MAX_SHARES - 2);
					goto fail;
				}
				int n = sh->n++;
				snprintf(sh->tag[n], sizeof(sh->tag[n]), "bind%d", n);
				snprintf(sh->host[n], sizeof(sh->host[n]), "%s", src);
				snprintf(sh->guest[n], sizeof(sh->guest[n]), GUEST_SHARE_BASE "/bind%d", n);
				snprintf(gpath, sizeof(gpath), "%s", sh->guest[n]);
			} else {
				/* files (hosts, resolv.conf, .containerenv…): a snapshot in the staging share */
				if (!have_staging) {
					if (mkdir(staging, 0755) < 0 && errno != EEXIST) {
						snprintf(err, errlen, "mkdir %s: %s", staging, strerror(errno));
						goto fail;
					}
					if (sh->n >= GUEST_MAX_SHARES) {
						snprintf(err, errlen, "too many shares for bind mounts");
						goto fail;
					}
					int n = sh->n++;
					snprintf(sh->tag[n], sizeof(sh->tag[n]), "binds");
					snprintf(sh->host[n], sizeof(sh->host[n]), "%s", staging);
					snprintf(sh->guest[n], sizeof(sh->guest[n]), GUEST_SHARE_BASE "/binds");
					have_staging = true;
				}
				char hp[PATH_MAX + 32];
				snprintf(hp, sizeof(hp), "%s/f%d", staging, nfile);
				if (copy_file(src, hp) < 0) {
					snprintf(err, errlen, "stage bind mount %s → %s: %s", src, dst, strerror(errno));
					goto fail;
				}
				snprintf(gpath, sizeof(gpath), GUEST_SHARE_BASE "/binds/f%d", nfile++);
			}
			gen_mount(g, m, gpath, NULL);
		}
		yajl_gen_array_close(g);
	}
	yajl_gen_map_close(g);
	const unsigned char *buf;
	size_t len;
	if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
		snprintf(err, errlen, "encode guest config");
		goto fail;
	}
	*out = strndup((const char *)buf, len);
	yajl_gen_free(g);
	return *out ? 0 : -1;
fail:
	yajl_gen_free(g);
	return -1;
}
