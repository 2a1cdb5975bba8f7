/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-fs: each chain is one FUSE request (device-readable part) and its
 * reply buffer (device-writable part), answered by the FUSE server. */
#include "vmm/devices/virtio_fs.h"
#include "vmm/devices/fs/fs.h"
#include "vmm/devices/virtio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct vfs {
	struct virtio_dev dev;
	struct virtio_dev_ops ops; /* per device: the queue count is an option */
	struct fs_server *srv;
	struct virtio_fs_config cfg;
	struct virtq_elem elem;
};

static void vfs_queue_notify(struct virtio_dev *d, unsigned q)
{
	struct vfs *v = d->priv;
	if (q >= d->ops->num_queues || d->broken || !d->active)
		return;
	struct virtq *vq = &d->vq[q];
	struct virtq_elem *e = &v->elem;
	bool pushed = false;
	/* At most one ring's worth per kick: no more can be pending when the
	 * guest kicks, later additions come with their own kick, and a ring whose
	 * used side overlaps its avail index cannot keep us spinning. */
	for (unsigned k = 0; k < vq->num; k++) {
		int r = virtq_pop(vq, e);
		if (r == 0)
			break;
		if (r < 0) {
			virtio_dev_broken(d, "malformed descriptor chain on queue %u", q);
			break;
		}
		ssize_t n = fs_server_handle(v->srv, e->iov, e->n_out, e->iov + e->n_out, e->n_in);
		/* n < 0: not even a FUSE header; complete it empty so the ring moves on. */
		if (virtq_push(vq, e->head, n > 0 ? (uint32_t)n : 0) < 0) {
			virtio_dev_broken(d, "used ring of queue %u not addressable", q);
			break;
		}
		pushed = true;
	}
	if (pushed)
		virtio_dev_notify(d, q);
}

static int vfs_activate(struct virtio_dev *d)
{
	d->active = true;
	return 0;
}

/* The FUSE session outlives a ring stop (vhost-user GET_VRING_BASE on a VM
 * pause, for one): inodes and handles stay until the driver starts a new
 * session with FUSE_INIT, which is where the server forgets the old one. */
static void vfs_reset(struct virtio_dev *d)
{
	d->active = false;
}

static void vfs_destroy(struct virtio_dev *d)
{
	struct vfs *v = d->priv;
	fs_server_free(v->srv);
	free(v);
}

static const struct virtio_dev_ops vfs_ops_template = {
    .name = "fs",
    .device_id = VIRTIO_ID_FS,
    .num_queues = 2,
    .queue_max = 1024,
    .features = 0,
    .activate = vfs_activate,
    .queue_notify = vfs_queue_notify,
    .reset = vfs_reset,
    .destroy = vfs_destroy,
};

struct vfs_opts {
	const char *tag, *dir;
	int cache;
	unsigned queues;
	char *err;
	size_t errlen;
};

static int vfs_opt(const char *k, const char *v, void *opaque)
{
	struct vfs_opts *o = opaque;
	if (!strcmp(k, "tag")) {
		o->tag = v;
	} else if (!strcmp(k, "dir")) {
		o->dir = v;
	} else if (!strcmp(k, "cache")) {
		o->cache = fs_cache_parse(v);
		if (o->cache < 0) {
			snprintf(o->err, o->errlen, "cache=%s: expected auto, always or none", v);
			return -EINVAL;
		}
	} else if (!strcmp(k, "queues")) {
		char *end;
		unsigned long n = strtoul(v, &end, 10);
		if (!*v || *end || n < 1 || n > VIRTIO_FS_MAX_REQUEST_QUEUES) {
			snprintf(o->err, o->errlen, "queues=%s: expected 1..%d", v,
				 VIRTIO_FS_MAX_REQUEST_QUEUES);
			return -EINVAL;
		}
		o->queues = (unsigned)n;
	} else {
		snprintf(o->err, o->errlen, "unknown option '%s' (tag, dir, cache, queues)", k);
		return -EINVAL;
	}
	return 0;
}

struct virtio_dev *virtio_fs_create(const char *opts, struct evloop *loop, char *err, size_t errlen)
{
	/* Option values point into a copy owned by the parser; copy what we keep. */
	char *dup = strdup(opts ? opts : "");
	if (!dup) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	struct vfs_opts o = {.cache = FS_CACHE_AUTO, .queues = 1, .err = err, .errlen = errlen};
	err[0] = '\0';
	/* Parse in place so tag/dir stay valid until we are done. */
	char *save = NULL;
	int rc = 0;
	for (char *tok = strtok_r(dup, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		if (eq)
			*eq = '\0';
		rc = vfs_opt(tok, eq ? eq + 1 : "", &o);
	}
	struct vfs *v = NULL;
	if (rc)
		goto fail;
	if (!o.tag || !*o.tag || strlen(o.tag) > VIRTIO_FS_TAG_LEN) {
		snprintf(err, errlen, "tag=%s: expected 1..%d bytes", o.tag ? o.tag : "", VIRTIO_FS_TAG_LEN);
		goto fail;
	}
	if (!o.dir || !*o.dir) {
		snprintf(err, errlen, "missing dir=DIR (the directory to share)");
		goto fail;
	}
	v = calloc(1, sizeof(*v));
	if (!v) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	v->srv = fs_server_new(o.dir, (enum fs_cache)o.cache, err, errlen);
	if (!v->srv)
		goto fail;
	memcpy(v->cfg.tag, o.tag, strlen(o.tag));
	v->cfg.num_request_queues = o.queues; /* x86: host order is little endian */
	v->ops = vfs_ops_template;
	v->ops.num_queues = (uint16_t)(1 + o.queues);
	v->dev.ops = &v->ops;
	v->dev.priv = v;
	v->dev.config = (uint8_t *)&v->cfg;
	v->dev.config_len = sizeof(v->cfg);
	v->dev.loop = loop;
	free(dup);
	return &v->dev;
fail:
	free(v);
	free(dup);
	return NULL;
}
