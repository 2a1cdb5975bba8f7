/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-mmio version 2 register layout (virtio 1.x §4.2.2). */
#ifndef RUNM_VMM_VIRTIO_MMIO_H
#define RUNM_VMM_VIRTIO_MMIO_H

#define VMMIO_MAGIC	     0x000
#define VMMIO_VERSION	     0x004
#define VMMIO_DEVICE_ID	     0x008
#define VMMIO_VENDOR_ID	     0x00c
#define VMMIO_DEV_FEATURES   0x010
#define VMMIO_DEV_FEAT_SEL   0x014
#define VMMIO_DRV_FEATURES   0x020
#define VMMIO_DRV_FEAT_SEL   0x024
#define VMMIO_QUEUE_SEL	     0x030
#define VMMIO_QUEUE_NUM_MAX  0x034
#define VMMIO_QUEUE_NUM	     0x038
#define VMMIO_QUEUE_READY    0x044
#define VMMIO_QUEUE_NOTIFY   0x050
#define VMMIO_INT_STATUS     0x060
#define VMMIO_INT_ACK	     0x064
#define VMMIO_STATUS	     0x070
#define VMMIO_QUEUE_DESC_LO  0x080
#define VMMIO_QUEUE_DESC_HI  0x084
#define VMMIO_QUEUE_AVAIL_LO 0x090
#define VMMIO_QUEUE_AVAIL_HI 0x094
#define VMMIO_QUEUE_USED_LO  0x0a0
#define VMMIO_QUEUE_USED_HI  0x0a4
#define VMMIO_SHM_SEL	     0x0ac
#define VMMIO_SHM_LEN_LO     0x0b0
#define VMMIO_SHM_LEN_HI     0x0b4
#define VMMIO_CONFIG_GEN     0x0fc
#define VMMIO_CONFIG	     0x100

#define VMMIO_INT_VRING	 1
#define VMMIO_INT_CONFIG 2

#endif
