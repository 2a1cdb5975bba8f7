/* SPDX-License-Identifier: Apache-2.0 */
/* Transport-independent helpers shared by every device. */
#include "vmm/devices/virtio.h"

#include <stdarg.h>
#include <stdio.h>

#include "log.h"

void virtio_dev_broken(struct virtio_dev *d, const char *fmt, ...)
{
	if (d->broken)
		return;
	d->broken = true;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s: %s", d->ops && d->ops->name ? d->ops->name : "virtio", msg);
	if (d->transport && d->transport->needs_reset)
		d->transport->needs_reset(d);
}

void virtio_dev_notify(struct virtio_dev *d, unsigned q)
{
	if (q >= VIRTIO_MAX_QUEUES)
		return;
	if (!virtq_should_notify(&d->vq[q]))
		return;
	if (d->transport && d->transport->notify_queue)
		d->transport->notify_queue(d, q);
}

void virtio_dev_reset(struct virtio_dev *d)
{
	if (d->ops && d->ops->reset)
		d->ops->reset(d);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		virtq_reset(&d->vq[q]);
	d->features_acked = 0;
	d->active = false;
	d->broken = false;
}

void virtio_dev_destroy(struct virtio_dev *d)
{
	if (d && d->ops && d->ops->destroy)
		d->ops->destroy(d);
}
