/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A minimal i8042 keyboard controller (ports 0x60/0x64), enough for Linux's
 * probe to finish at once instead of timing out (~0.5 s per missing answer):
 * controller self-test, interface test, command byte (CTR) and output-port
 * reads/writes answer through the data port. There is no keyboard behind it.
 * Command 0xFE (pulse reset line) ends the VM with exit status 0.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "vmm/legacy/legacy.h"
#include "vmm/vm.h"

#define I8042_DATA 0x60
#define I8042_CMD  0x64

#define STS_OBF 0x01 /* output buffer full: data waiting at 0x60 */
#define STS_SYS 0x04 /* system flag: self-test passed */
#define STS_CMD 0x08 /* last write was a command */

#define CMD_READ_CTR   0x20
#define CMD_WRITE_CTR  0x60
#define CMD_SELF_TEST  0xaa
#define CMD_IFACE_KBD  0xab
#define CMD_IFACE_AUX  0xa9
#define CMD_READ_OUTP  0xd0
#define CMD_WRITE_OUTP 0xd1
#define CMD_WRITE_AUX  0xd4
#define CMD_RESET      0xfe

struct i8042 {
	struct vm *vm;
	pthread_mutex_t lock;
	uint8_t status, ctr, outp;
	uint8_t pending_cmd; /* command waiting for its data byte */
	uint8_t buf[4];
	unsigned head, count;
};

static void push(struct i8042 *k, uint8_t v)
{
	if (k->count < sizeof(k->buf))
		k->buf[(k->head + k->count++) % sizeof(k->buf)] = v;
}

struct i8042 *i8042_new(struct vm *vm)
{
	struct i8042 *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->vm = vm;
	pthread_mutex_init(&k->lock, NULL);
	k->status = STS_SYS;
	k->ctr = 0x44;	/* keyboard translation, system flag; interrupts off */
	k->outp = 0x01; /* A20 gate: CPU not held in reset */
	return k;
}

void i8042_free(struct i8042 *k)
{
	if (!k)
		return;
	pthread_mutex_destroy(&k->lock);
	free(k);
}

static void command(struct i8042 *k, uint8_t cmd)
{
	k->status |= STS_CMD;
	switch (cmd) {
	case CMD_READ_CTR:
		push(k, k->ctr);
		break;
	case CMD_SELF_TEST:
		push(k, 0x55);
		break;
	case CMD_IFACE_KBD:
	case CMD_IFACE_AUX:
		push(k, 0x00);
		break;
	case CMD_READ_OUTP:
		push(k, k->outp);
		break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTP:
	case CMD_WRITE_AUX:
		k->pending_cmd = cmd;
		break;
	case CMD_RESET:
		log_debug("guest reset through the i8042");
		vm_request_exit(k->vm, 0);
		break;
	default:
		break; /* enable/disable ports and the like: nothing to do */
	}
}

void i8042_io(struct i8042 *k, uint16_t port, bool is_write, uint8_t *data)
{
	pthread_mutex_lock(&k->lock);
	if (is_write && port == I8042_CMD) {
		command(k, *data);
	} else if (is_write) {
		k->status &= (uint8_t)~STS_CMD;
		switch (k->pending_cmd) {
		case CMD_WRITE_CTR:
			k->ctr = *data;
			break;
		case CMD_WRITE_OUTP:
			k->outp = *data;
			break;
		default:
			break; /* bytes for the (absent) keyboard or aux device */
		}
		k->pending_cmd = 0;
	} else if (port == I8042_CMD) {
		*data = (uint8_t)(k->status | (k->count ? STS_OBF : 0));
	} else if (k->count) {
		*data = k->buf[k->head];
		k->head = (k->head + 1) % sizeof(k->buf);
		k->count--;
	} else {
		*data = 0;
	}
	pthread_mutex_unlock(&k->lock);
}
