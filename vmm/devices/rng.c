/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-rng (virtio 1.x §5.4): fill each device-writable buffer with getrandom(2). */
#include "vmm/devices/virtio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"

/* Bytes served per request; larger buffers get a short (but valid) answer. */
#define RNG_MAX_PER_REQ 65536

static int rng_fill(const struct virtq_elem *e, size_t *written)
{
	size_t left = e->in_len < RNG_MAX_PER_REQ ? e->in_len : RNG_MAX_PER_REQ;
	*written = 0;
	for (unsigned i = e->n_out; i < e->n_out + e->n_in && left; i++) {
		uint8_t *p = e->iov[i].iov_base;
		size_t n = e->iov[i].iov_len < left ? e->iov[i].iov_len : left;
		while (n) {
			ssize_t r = getrandom(p, n, 0);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				return -errno;
			}
			p += r;
			n -= (size_t)r;
			left -= (size_t)r;
			*written += (size_t)r;
		}
	}
	return 0;
}

static void rng_queue_notify(struct virtio_dev *d, unsigned q)
{
	if (q != 0 || d->broken || !d->active)
		return;
	struct virtq *vq = &d->vq[0];
	struct virtq_elem *e = d->priv;
	bool pushed = false;
	for (;;) {
		int r = virtq_pop(vq, e);
		if (r == 0)
			break;
		if (r < 0) {
			virtio_dev_broken(d, "malformed descriptor chain on request queue");
			break;
		}
		size_t written = 0;
		int err = rng_fill(e, &written);
		if (err) {
			virtq_unpop(vq);
			log_errno(-err, "rng: getrandom");
			break;
		}
		if (virtq_push(vq, e->head, (uint32_t)written) < 0) {
			virtio_dev_broken(d, "used ring not addressable");
			break;
		}
		pushed = true;
	}
	if (pushed)
		virtio_dev_notify(d, 0);
}

static int rng_activate(struct virtio_dev *d)
{
	d->active = true;
	return 0;
}

static void rng_reset(struct virtio_dev *d)
{
	d->active = false;
}

static void rng_destroy(struct virtio_dev *d)
{
	free(d->priv);
	free(d);
}

static const struct virtio_dev_ops rng_ops = {
    .name = "rng",
    .device_id = VIRTIO_ID_RNG,
    .num_queues = 1,
    .queue_max = 256,
    .features = 0,
    .activate = rng_activate,
    .queue_notify = rng_queue_notify,
    .reset = rng_reset,
    .destroy = rng_destroy,
};

static int rng_opt(const char *k, const char *v, void *opaque)
{
	char *err = ((char **)opaque)[0];
	size_t errlen = (size_t)((char **)opaque)[1];
	snprintf(err, errlen, "unknown option '%s'", k);
	return -EINVAL;
}

struct virtio_dev *virtio_rng_create(const char *opts, struct evloop *loop, char *err, size_t errlen)
{
	void *ctx[2] = {err, (void *)errlen};
	if (virtio_parse_opts(opts, rng_opt, ctx))
		return NULL;
	struct virtio_dev *d = calloc(1, sizeof(*d));
	struct virtq_elem *e = malloc(sizeof(*e));
	if (!d || !e) {
		free(d);
		free(e);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->ops = &rng_ops;
	d->priv = e;
	d->loop = loop;
	return d;
}
