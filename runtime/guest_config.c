/* SPDX-License-Identifier: Apache-2.0 */
/* config.json as the guest sees it: root.path and the source of every bind mount (directories
 * and files alike) point into the container's one virtio-fs share (GUEST_SHARE_MNT/rootfs,
 * GUEST_SHARE_MNT/<entry>: named after the source, e.g. …/share/tmp/x/data, else
 * …/share/mounts/<i>; laid out by fs_share_prepare); a /dev/shm bind becomes a guest tmpfs of
 * the size of the host tmpfs it replaces (podman/Docker --shm-size), or for a pod member that
 * shares the pod's IPC a bind of the VM's /dev/shm (the pod's, shared by its members). A relative
 * bind source is relative to the bundle directory, as in runc. */
#include "guest_config.h"
#include "disks.h"
#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>

/* The VM's own /dev/shm (a tmpfs, agent/init.c): the pod's, bound into members sharing its IPC */
#define GUEST_POD_SHM "/dev/shm"

static void gs(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static const char *str_of(yajl_val obj, const char *key)
{
	return json_get_str(obj, key);
}

void guest_shares_free(struct guest_shares *sh)
{
	fs_share_free_names(sh->binds, sh->nbinds);
	free(sh->binds);
	sh->binds = NULL;
	sh->nbinds = 0;
	for (size_t i = 0; i < sh->nabs; i++)
		free(sh->abs[i]);
	free(sh->abs);
	sh->abs = NULL;
	sh->nabs = 0;
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
		json_gen_value(g, m->u.object.values[i]);
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

/* A bind of a host block device: the VM's drive of that serial, not the host's node; the host's
 * numbers go along, for the device rules that name them (agent/disks.c). */
static void gen_drive_bind(yajl_gen g, yajl_val m, const struct disks_dev *dd)
{
	char v[64];
	yajl_gen_map_open(g);
	for (size_t i = 0; i < m->u.object.len; i++) {
		if (strcmp(m->u.object.keys[i], "source")) {
			gs(g, m->u.object.keys[i]);
			json_gen_value(g, m->u.object.values[i]);
		}
	}
	snprintf(v, sizeof(v), DISKS_DEV_PREFIX "%s", dd->serial);
	gs(g, "source");
	gs(g, v);
	snprintf(v, sizeof(v), "%u:%u", dd->major, dd->minor);
	gs(g, "runmHostDevice");
	gs(g, v);
	yajl_gen_map_close(g);
}

/* "linux" for the guest: a network namespace path names the host's netns, which the shim has
 * joined and wired into the VM (runtime/net/); in the guest the container gets a new netns that
 * the agent fills with the VM's NICs. */
static void gen_ns(yajl_gen g, const char *type, const char *ctr)
{
	yajl_gen_map_open(g);
	gs(g, "type");
	gs(g, type);
	if (ctr) {
		gs(g, "container");
		gs(g, ctr);
	}
	yajl_gen_map_close(g);
}

/* A pod member (M): network always, ipc/uts where M->join_* says (their paths named the
 * sandbox's), user and pid where they have a path (pod_ns_paths let only the sandbox's pass),
 * are the sandbox container's in the guest; every other namespace its own. */
/* linux.devices for the guest: a block device is the VM's drive of that serial (disks.h), whose
 * guest numbers the agent puts in place of the host's. */
static void gen_devices(yajl_gen g, yajl_val devs, const struct disks_plan *dp)
{
	yajl_gen_array_open(g);
	for (size_t j = 0; j < devs->u.array.len; j++) {
		yajl_val d = devs->u.array.values[j];
		const struct disks_dev *dd = disks_dev_of(dp, DISKS_DEV_NODE, j);
		if (!dd || !YAJL_IS_OBJECT(d)) {
			json_gen_value(g, d);
			continue;
		}
		yajl_gen_map_open(g);
		for (size_t k = 0; k < d->u.object.len; k++) {
			gs(g, d->u.object.keys[k]);
			json_gen_value(g, d->u.object.values[k]);
		}
		char src[64];
		snprintf(src, sizeof(src), DISKS_DEV_PREFIX "%s", dd->serial);
		gs(g, "runmDrive");
		gs(g, src);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
}

static void gen_linux(yajl_gen g, yajl_val lnx, const struct guest_member *m, const struct disks_plan *dp)
{
	yajl_gen_map_open(g);
	for (size_t i = 0; i < lnx->u.object.len; i++) {
		const char *k = lnx->u.object.keys[i];
		yajl_val v = lnx->u.object.values[i];
		gs(g, k);
		if (!strcmp(k, "devices") && YAJL_IS_ARRAY(v) && dp && dp->ndev) {
			gen_devices(g, v, dp);
			continue;
		}
		if (strcmp(k, "namespaces") || !YAJL_IS_ARRAY(v)) {
			json_gen_value(g, v);
			continue;
		}
		yajl_gen_array_open(g);
		for (size_t j = 0; j < v->u.array.len; j++) {
			yajl_val e = v->u.array.values[j];
			const char *type = YAJL_IS_OBJECT(e) ? str_of(e, "type") : NULL;
			if (m && type) {
				/* a user or pid namespace path passed pod_ns_paths: it names the
				 * sandbox's (a pid one: the pod shares its processes, as Kubernetes'
				 * shareProcessNamespace asks) */
				const char *upath =
				    !strcmp(type, "user") || !strcmp(type, "pid") ? str_of(e, "path") : NULL;
				bool join = !strcmp(type, "network") ||
					    (!strcmp(type, "ipc") && m->join_ipc) ||
					    (!strcmp(type, "uts") && m->join_uts) || (upath && *upath);
				gen_ns(g, type, join ? m->sandbox : NULL);
				continue;
			}
			if (!type || strcmp(type, "network")) {
				json_gen_value(g, e);
				continue;
			}
			gen_ns(g, "network", NULL);
		}
		yajl_gen_array_close(g);
	}
	yajl_gen_map_close(g);
}

int guest_config(const struct spec *s, const char *dir, bool on_host, const struct disks_plan *dp,
		 struct guest_shares *sh, char **out, char *err, size_t errlen)
{
	return guest_config_member(s, dir, on_host, NULL, dp, sh, out, err, errlen);
}

int guest_config_member(const struct spec *s, const char *dir, bool on_host, const struct guest_member *mem,
			const struct disks_plan *dp, struct guest_shares *sh, char **out, char *err,
			size_t errlen)
{
	memset(sh, 0, sizeof(*sh));
	*out = NULL;
	/* on the host (test harness) the agent gets host paths as they are */
	sh->n = on_host ? 0 : 1;
	/* a member's share is a subdirectory of the sandbox's (served live by its FUSE server) */
	char gbase[128];
	snprintf(gbase, sizeof(gbase), "%s%s%s", GUEST_SHARE_MNT, mem ? "/" : "", mem ? mem->sub : "");
	if (mem)
		snprintf(sh->host, sizeof(sh->host), "%s/%s", mem->sandbox_share, mem->sub);
	else
		snprintf(sh->host, sizeof(sh->host), "%s/" GUEST_SHARE_DIR, dir);
	/* the drives, decided by the caller or here (runtime/disks.h): a root on a drive is named by
	 * root.path, host block devices by their drives' serials */
	struct disks_plan own;
	if (!dp) {
		if (disks_plan(s, false,
			       mem	 ? DISKS_NO_DRIVES_MEMBER
			       : on_host ? DISKS_NO_DRIVES_HOST
					 : NULL,
			       &own, err, errlen) < 0)
			return -1;
		dp = &own;
	}
	sh->root_on_drive = dp->root.mode != DISKS_NONE;
	char groot[160];
	if (sh->root_on_drive)
		disks_root_guest_path(&dp->root, groot, sizeof(groot));
	else
		snprintf(groot, sizeof(groot), "%s/rootfs", gbase);
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
				json_gen_value(g, v->u.object.values[j]);
			}
			gs(g, "path");
			gs(g, on_host ? s->rootfs : groot);
			yajl_gen_map_close(g);
			continue;
		}
		if (!strcmp(k, "linux") && YAJL_IS_OBJECT(v) && (!on_host || mem)) {
			gs(g, k);
			gen_linux(g, v, mem, dp);
			continue;
		}
		if (strcmp(k, "mounts") || !YAJL_IS_ARRAY(v)) {
			/* hooks run on the host: the guest agent does not get them */
			if (strcmp(k, "hooks")) {
				gs(g, k);
				json_gen_value(g, v);
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
			if (!src || !dst || !spec_mount_is_bind(m)) {
				json_gen_value(g, m);
				continue;
			}
			if (src[0] != '/') {
				/* relative to the bundle, as in runc (the guest would take it relative to
				 * its own root) */
				if (!s->bundle[0] || s->bundle[0] != '/') {
					snprintf(err, errlen,
						 "bind mount %s → %s: relative source and no absolute bundle",
						 src, dst);
					goto fail;
				}
				char *abs = NULL;
				if (asprintf(&abs, "%s/%s", s->bundle, src) < 0 || !abs) {
					snprintf(err, errlen, "bind mount %s → %s: out of memory", src, dst);
					goto fail;
				}
				if (!sh->nabs || sh->nabs % 8 == 0) {
					char **na = realloc(sh->abs, (sh->nabs + 8) * sizeof(*na));
					if (!na) {
						free(abs);
						snprintf(err, errlen, "bind mount %s → %s: out of memory",
							 src, dst);
						goto fail;
					}
					sh->abs = na;
				}
				sh->abs[sh->nabs++] = abs;
				src = abs;
			}
			if (on_host) {
				gen_mount(g, m, src, NULL);
				continue;
			}
			if (stat(src, &sb) < 0) {
				snprintf(err, errlen, "bind mount %s → %s: %s", src, dst, strerror(errno));
				goto fail;
			}
			const struct disks_dev *dd = disks_dev_of(dp, DISKS_DEV_BIND, j);
			if (dd) {
				gen_drive_bind(g, m, dd);
				continue;
			}
			if (!strcmp(dst, "/dev/shm") && S_ISDIR(sb.st_mode) && mem && mem->join_ipc) {
				/* a pod member sharing the pod's IPC shares its /dev/shm too (CRI binds the
				 * sandbox's into every container): in the pod's one VM, the guest's own */
				gen_mount(g, m, GUEST_POD_SHM, NULL);
				continue;
			}
			if (!strcmp(dst, "/dev/shm") && S_ISDIR(sb.st_mode)) {
				/* the engine's shm lives on the host; a guest tmpfs is the honest equivalent
				 */
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
				/* the engine sized its tmpfs (--shm-size): the guest's gets the same size */
				struct statfs fs;
				if (statfs(src, &fs) == 0 && fs.f_type == TMPFS_MAGIC) {
					char size[48];
					snprintf(size, sizeof(size), "size=%lluk",
						 (unsigned long long)fs.f_blocks *
						     (unsigned long long)fs.f_bsize / 1024);
					gs(g, size);
				}
				yajl_gen_array_close(g);
				yajl_gen_map_close(g);
				continue;
			}
			/* directories and files (hosts, resolv.conf, volumes…) alike: a live bind in the
			 * share; read-only ones are read-only on the host side too */
			struct fs_share_bind *nb = realloc(sh->binds, (sh->nbinds + 1) * sizeof(*nb));
			if (!nb) {
				snprintf(err, errlen, "bind mount %s → %s: out of memory", src, dst);
				goto fail;
			}
			sh->binds = nb;
			nb[sh->nbinds] = (struct fs_share_bind){
			    .source = src, .dest = dst, .readonly = spec_mount_has_opt(m, "ro")};
			/* named after the source, so that the guest's mountinfo shows runc's root */
			if (fs_share_name_bind(nb, sh->nbinds, err, errlen) < 0)
				goto fail;
			char gpath[PATH_MAX];
			snprintf(gpath, sizeof(gpath), "%s%s", gbase, nb[sh->nbinds++].entry);
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
	if (!*out) {
		snprintf(err, errlen, "encode guest config: out of memory");
		guest_shares_free(sh);
		return -1;
	}
	return 0;
fail:
	yajl_gen_free(g);
	guest_shares_free(sh);
	return -1;
}
