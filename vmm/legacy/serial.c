/* SPDX-License-Identifier: Apache-2.0 */
/*
 * 8250/16550A UART at 0x3f8 on IRQ 4. Output goes straight to the console fd;
 * input (stdin) is read by the event loop into a bounded FIFO. When the FIFO is
 * full the loop stops reading, and resumes when the guest drains it (an
 * eventfd from the vCPU thread), so a fast writer never makes us buffer
 * without bound. Registers are accessed from vCPU threads under a mutex.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "evloop.h"
#include "log.h"
#include "vmm/legacy/legacy.h"
#include "vmm/vm.h"

#define SERIAL_IRQ 4
#define RX_FIFO	   1024

#define UART_IER_RDI  0x01
#define UART_IER_THRI 0x02
#define UART_IIR_NONE 0x01
#define UART_IIR_THRI 0x02
#define UART_IIR_RDI  0x04
#define UART_LCR_DLAB 0x80
#define UART_LSR_DR   0x01
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40
#define UART_MCR_LOOP 0x10

struct serial {
	struct vm *vm;
	pthread_mutex_t lock;
	int in_fd, out_fd, wake_fd;
	struct evloop *loop;
	bool reading; /* in_fd is watched */
	bool in_eof;
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	bool thre_pending;
	bool irq_level;
	uint8_t rx[RX_FIFO];
	unsigned rx_head, rx_count;
};

static void set_irq(struct serial *s, int level)
{
	struct kvm_irq_level l = {.irq = SERIAL_IRQ, .level = (uint32_t)level};
	if (ioctl(s->vm->vm_fd, KVM_IRQ_LINE, &l) < 0)
		log_errno(errno, "serial: KVM_IRQ_LINE %d", level);
}

/* Recompute the interrupt line; `fresh` = a new event happened (re-edge). */
static void update_irq(struct serial *s, bool fresh)
{
	bool want = ((s->ier & UART_IER_RDI) && s->rx_count) || ((s->ier & UART_IER_THRI) && s->thre_pending);
	if (want && s->irq_level && fresh)
		set_irq(s, 0);
	if (want != s->irq_level || (want && fresh))
		set_irq(s, want);
	s->irq_level = want;
}

static void out_byte(struct serial *s, uint8_t c)
{
	if (s->out_fd < 0)
		return;
	for (;;) {
		ssize_t n = write(s->out_fd, &c, 1);
		if (n == 1 || (n < 0 && errno != EINTR && errno != EAGAIN))
			return;
		if (n < 0 && errno == EAGAIN) {
			/* a non-blocking console that is full: wait for room (back-pressure
			 * on the guest) instead of spinning; give up if the VM is ending */
			struct pollfd p = {.fd = s->out_fd, .events = POLLOUT};
			if (atomic_load(&s->vm->state) == VM_STOPPING)
				return;
			poll(&p, 1, 100);
		}
	}
}

static uint8_t iir(struct serial *s)
{
	uint8_t fifo = (s->fcr & 1) ? 0xc0 : 0;
	if ((s->ier & UART_IER_RDI) && s->rx_count)
		return fifo | UART_IIR_RDI;
	if ((s->ier & UART_IER_THRI) && s->thre_pending)
		return fifo | UART_IIR_THRI;
	return fifo | UART_IIR_NONE;
}

void serial_io(struct serial *s, unsigned off, bool is_write, uint8_t *val)
{
	bool wake = false;
	pthread_mutex_lock(&s->lock);
	bool dlab = s->lcr & UART_LCR_DLAB;
	if (is_write) {
		uint8_t v = *val;
		switch (off) {
		case 0:
			if (dlab) {
				s->dll = v;
			} else if (s->mcr & UART_MCR_LOOP) {
				if (s->rx_count < RX_FIFO) {
					s->rx[(s->rx_head + s->rx_count++) % RX_FIFO] = v;
				}
				s->thre_pending = true;
				update_irq(s, true);
			} else {
				out_byte(s, v);
				s->thre_pending = true;
				update_irq(s, true);
			}
			break;
		case 1:
			if (dlab) {
				s->dlm = v;
			} else {
				bool thre_on = !(s->ier & UART_IER_THRI) && (v & UART_IER_THRI);
				s->ier = v & 0x0f;
				if (thre_on)
					s->thre_pending = true; /* THR is always empty here */
				update_irq(s, thre_on);
			}
			break;
		case 2:
			s->fcr = v;
			if (v & 2) { /* clear RX FIFO */
				s->rx_count = 0;
				wake = true;
			}
			update_irq(s, false);
			break;
		case 3:
			s->lcr = v;
			break;
		case 4:
			s->mcr = v & 0x1f;
			break;
		case 7:
			s->scr = v;
			break;
		default:
			break;
		}
	} else {
		uint8_t v = 0;
		switch (off) {
		case 0:
			if (dlab) {
				v = s->dll;
			} else if (s->rx_count) {
				v = s->rx[s->rx_head];
				s->rx_head = (s->rx_head + 1) % RX_FIFO;
				s->rx_count--;
				if (s->rx_count == RX_FIFO / 2 || s->rx_count == 0)
					wake = true;
				update_irq(s, false);
			}
			break;
		case 1:
			v = dlab ? s->dlm : s->ier;
			break;
		case 2:
			v = iir(s);
			if ((v & 0x0f) == UART_IIR_THRI) {
				s->thre_pending = false;
				update_irq(s, false);
			}
			break;
		case 3:
			v = s->lcr;
			break;
		case 4:
			v = s->mcr;
			break;
		case 5:
			v = UART_LSR_THRE | UART_LSR_TEMT | (s->rx_count ? UART_LSR_DR : 0);
			break;
		case 6:
			/* loopback reflects MCR; else carrier detect, DSR, CTS */
			/* loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD (Linux probes this) */
			v = (s->mcr & UART_MCR_LOOP)
				? (uint8_t)(((s->mcr & 0x01) << 5) | ((s->mcr & 0x02) << 3) |
					    ((s->mcr & 0x0c) << 4))
				: 0xb0;
			break;
		case 7:
			v = s->scr;
			break;
		}
		*val = v;
	}
	bool need_wake = wake && !s->reading && !s->in_eof && s->in_fd >= 0 && s->rx_count < RX_FIFO / 2;
	pthread_mutex_unlock(&s->lock);
	if (need_wake && s->wake_fd >= 0) {
		uint64_t one = 1;
		if (write(s->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_errno(errno, "serial: wake event loop");
	}
}

/* ---------------------------------------------------- event-loop side */

static void on_input(void *opaque, uint32_t events)
{
	struct serial *s = opaque;
	uint8_t buf[RX_FIFO];
	pthread_mutex_lock(&s->lock);
	size_t room = RX_FIFO - s->rx_count;
	pthread_mutex_unlock(&s->lock);
	if (room == 0) {
		evloop_mod(s->loop, s->in_fd, 0);
		s->reading = false;
		return;
	}
	ssize_t n = read(s->in_fd, buf, room);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	pthread_mutex_lock(&s->lock);
	if (n <= 0) {
		if (n < 0)
			log_errno(errno, "serial: read console input");
		s->in_eof = true;
		s->reading = false;
		pthread_mutex_unlock(&s->lock);
		evloop_del(s->loop, s->in_fd);
		return;
	}
	for (ssize_t i = 0; i < n; i++)
		s->rx[(s->rx_head + s->rx_count++) % RX_FIFO] = buf[i];
	update_irq(s, true);
	bool full = s->rx_count == RX_FIFO;
	if (full)
		s->reading = false;
	pthread_mutex_unlock(&s->lock);
	if (full)
		evloop_mod(s->loop, s->in_fd, 0);
}

static void on_wake(void *opaque, uint32_t events)
{
	struct serial *s = opaque;
	uint64_t v;
	if (read(s->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&s->lock);
	bool resume = !s->reading && !s->in_eof && s->rx_count < RX_FIFO;
	if (resume)
		s->reading = true;
	pthread_mutex_unlock(&s->lock);
	if (resume)
		evloop_mod(s->loop, s->in_fd, EPOLLIN);
}

struct serial *serial_new(struct vm *vm, int in_fd, int out_fd)
{
	struct serial *s = calloc(1, sizeof(*s));
	if (!s) {
		log_errno(ENOMEM, "serial");
		return NULL;
	}
	s->vm = vm;
	s->in_fd = in_fd;
	s->out_fd = out_fd;
	s->wake_fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	return s;
}

int serial_attach(struct serial *s, struct evloop *loop)
{
	s->loop = loop;
	if (s->in_fd < 0)
		return 0;
	int r = evloop_add(loop, s->in_fd, EPOLLIN, on_input, s);
	if (r == -EPERM) {
		/* a regular file or /dev/null cannot be polled: no console input */
		s->in_fd = -1;
		return 0;
	}
	if (r < 0) {
		log_errno(-r, "serial: watch console input fd %d", s->in_fd);
		return -1;
	}
	s->reading = true;
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake_fd < 0 || (r = evloop_add(loop, s->wake_fd, EPOLLIN, on_wake, s)) < 0) {
		log_errno(s->wake_fd < 0 ? errno : -r, "serial: eventfd");
		return -1;
	}
	return 0;
}

void serial_free(struct serial *s)
{
	if (!s)
		return;
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
