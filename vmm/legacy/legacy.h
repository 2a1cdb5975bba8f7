/* SPDX-License-Identifier: Apache-2.0 */
/* Legacy PC devices of runm-vmm (kvmtool's hw/, Firecracker's devices/legacy): the 8250 UART
 * that is the guest's console and the i8042 whose reset line ends the VM. */
#ifndef RUNM_VMM_LEGACY_H
#define RUNM_VMM_LEGACY_H

#include <stdbool.h>
#include <stdint.h>

struct vm;
struct evloop;
struct serial;

/* legacy/serial.c: 8250 UART at 0x3f8, IRQ 4 */
struct serial *serial_new(struct vm *vm, int in_fd, int out_fd);
int serial_attach(struct serial *s, struct evloop *loop);
void serial_io(struct serial *s, unsigned off, bool is_write, uint8_t *val);
void serial_free(struct serial *s);

/* legacy/i8042.c: keyboard controller at 0x60/0x64 (probe answers, reset) */
struct i8042;
struct i8042 *i8042_new(struct vm *vm);
void i8042_io(struct i8042 *k, uint16_t port, bool is_write, uint8_t *data);
void i8042_free(struct i8042 *k);

#endif
