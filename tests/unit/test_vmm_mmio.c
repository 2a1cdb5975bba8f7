/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the virtio-mmio v2 transport without KVM (vm_fd -1: the
 * userspace kick and KVM_IRQ_LINE fallbacks), driving a virtio-rng device
 * whose event loop runs on its own thread as in runm-vmm. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/evloop.h"
#include "vmm/virtio_mmio.h"
#include "vmm/vm.h"

static struct vm vm;
static struct vm_config cfg;
static struct mmio_dev *dev;
static struct virtio_dev *vdev;
static pthread_t loop_thread;

static uint32_t rd(unsigned off)
{
	uint32_t v;
	mmio_dev_access(dev, off, false, (uint8_t *)&v, 4);
	return v;
}

static void wr(unsigned off, uint32_t v)
{
	mmio_dev_access(dev, off, true, (uint8_t *)&v, 4);
}

static void *loop_main(void *arg)
{
	evloop_run(vm.loop);
	return NULL;
}

static int setup(void **state)
{
	char err[256];
	memset(&vm, 0, sizeof(vm));
	vm.cfg = &cfg;
	vm.kvm_fd = vm.vm_fd = -1;
	vm.ncpus = 1;
	atomic_init(&vm.state, VM_RUNNING);
	atomic_init(&vm.exit_code, -1);
	pthread_mutex_init(&vm.lock, NULL);
	pthread_cond_init(&vm.cond, NULL);
	assert_int_equal(vm_memory_init(&vm, 4, false), 0);
	vm.loop = evloop_new();
	assert_non_null(vm.loop);
	vdev = virtio_dev_create("rng", vm.loop, err, sizeof(err));
	assert_non_null(vdev);
	dev = mmio_dev_new(&vm, vdev, 2, err, sizeof(err));
	assert_non_null(dev);
	assert_int_equal(pthread_create(&loop_thread, NULL, loop_main, NULL), 0);
	return 0;
}

static int teardown(void **state)
{
	evloop_stop(vm.loop);
	pthread_join(loop_thread, NULL);
	mmio_dev_free(dev);
	virtio_dev_destroy(vdev);
	evloop_free(vm.loop);
	vm_memory_free(&vm);
	return 0;
}

static void negotiate(void)
{
	wr(VMMIO_STATUS, 0);
	wr(VMMIO_STATUS, 1);
	wr(VMMIO_STATUS, 3);
	wr(VMMIO_DRV_FEAT_SEL, 1);
	wr(VMMIO_DRV_FEATURES, 1); /* VERSION_1 */
	wr(VMMIO_DRV_FEAT_SEL, 0);
	wr(VMMIO_DRV_FEATURES, 0);
	wr(VMMIO_STATUS, 11);
	assert_int_equal(rd(VMMIO_STATUS), 11);
}

static void setup_queue(void)
{
	wr(VMMIO_QUEUE_SEL, 0);
	wr(VMMIO_QUEUE_NUM, 8);
	wr(VMMIO_QUEUE_DESC_LO, 0x1000);
	wr(VMMIO_QUEUE_AVAIL_LO, 0x2000);
	wr(VMMIO_QUEUE_USED_LO, 0x3000);
	wr(VMMIO_QUEUE_READY, 1);
	assert_int_equal(rd(VMMIO_QUEUE_READY), 1);
	memset(vm.ram + 0x1000, 0, 0x3000);
}

/* Put one device-writable buffer (addr, len) on the avail ring and kick. */
static void submit(uint64_t addr, uint32_t len, uint16_t idx)
{
	struct {
		uint64_t addr;
		uint32_t len;
		uint16_t flags, next;
	} desc = {addr, len, 2 /* WRITE */, 0};
	memcpy(vm.ram + 0x1000, &desc, sizeof(desc));
	uint16_t head = 0;
	memcpy(vm.ram + 0x2000 + 4, &head, 2);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	memcpy(vm.ram + 0x2000 + 2, &idx, 2);
	wr(VMMIO_QUEUE_NOTIFY, 0);
}

static bool wait_for(bool (*cond)(void))
{
	for (int i = 0; i < 500; i++) {
		if (cond())
			return true;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return false;
}

static bool used_one(void)
{
	uint16_t idx;
	memcpy(&idx, vm.ram + 0x3000 + 2, 2);
	return idx == 1;
}

static bool int_vring(void)
{
	return rd(VMMIO_INT_STATUS) & VMMIO_INT_VRING;
}

static bool needs_reset(void)
{
	return rd(VMMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET;
}

static void test_identity_and_features(void **state)
{
	assert_int_equal(mmio_dev_base(dev), 0xd0002000);
	assert_int_equal(mmio_dev_gsi(dev), 7);
	assert_int_equal(rd(VMMIO_MAGIC), 0x74726976);
	assert_int_equal(rd(VMMIO_VERSION), 2);
	assert_int_equal(rd(VMMIO_DEVICE_ID), VIRTIO_ID_RNG);
	wr(VMMIO_DEV_FEAT_SEL, 1);
	assert_true(rd(VMMIO_DEV_FEATURES) & 1); /* VERSION_1 */
	wr(VMMIO_DEV_FEAT_SEL, 5);
	assert_int_equal(rd(VMMIO_DEV_FEATURES), 0);
	/* without VERSION_1 FEATURES_OK does not stick */
	wr(VMMIO_STATUS, 0);
	wr(VMMIO_STATUS, 3);
	wr(VMMIO_STATUS, 11);
	assert_int_equal(rd(VMMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK, 0);
	/* an unoffered bit is refused too */
	wr(VMMIO_STATUS, 0);
	wr(VMMIO_STATUS, 3);
	wr(VMMIO_DRV_FEAT_SEL, 1);
	wr(VMMIO_DRV_FEATURES, 1 | (1u << 20));
	wr(VMMIO_STATUS, 11);
	assert_int_equal(rd(VMMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK, 0);
	negotiate();
	/* short or unaligned register accesses are ignored / read 0 */
	uint8_t b = 0xff;
	mmio_dev_access(dev, VMMIO_MAGIC, false, &b, 1);
	assert_int_equal(b, 0);
}

static void test_queue_validation(void **state)
{
	negotiate();
	wr(VMMIO_QUEUE_SEL, 7);
	assert_int_equal(rd(VMMIO_QUEUE_NUM_MAX), 0);
	wr(VMMIO_QUEUE_READY, 1);
	assert_int_equal(rd(VMMIO_QUEUE_READY), 0);
	wr(VMMIO_QUEUE_SEL, 0);
	assert_true(rd(VMMIO_QUEUE_NUM_MAX) >= 8);
	wr(VMMIO_QUEUE_NUM, 6); /* not a power of two */
	wr(VMMIO_QUEUE_DESC_LO, 0x1000);
	wr(VMMIO_QUEUE_AVAIL_LO, 0x2000);
	wr(VMMIO_QUEUE_USED_LO, 0x3000);
	wr(VMMIO_QUEUE_READY, 1);
	assert_int_equal(rd(VMMIO_QUEUE_READY), 0);
	wr(VMMIO_QUEUE_NUM, 8);
	wr(VMMIO_QUEUE_DESC_LO, 0x1008); /* misaligned */
	wr(VMMIO_QUEUE_READY, 1);
	assert_int_equal(rd(VMMIO_QUEUE_READY), 0);
	wr(VMMIO_QUEUE_DESC_LO, 0x1000);
	wr(VMMIO_QUEUE_DESC_HI, 1); /* outside guest memory */
	wr(VMMIO_QUEUE_READY, 1);
	assert_int_equal(rd(VMMIO_QUEUE_READY), 0);
	wr(VMMIO_QUEUE_DESC_HI, 0);
	wr(VMMIO_QUEUE_READY, 1);
	assert_int_equal(rd(VMMIO_QUEUE_READY), 1);
	assert_int_equal(rd(VMMIO_QUEUE_DESC_LO), 0x1000);
	/* reset clears queues, status and interrupts */
	wr(VMMIO_STATUS, 0);
	assert_int_equal(rd(VMMIO_STATUS), 0);
	assert_int_equal(rd(VMMIO_QUEUE_READY), 0);
	assert_int_equal(rd(VMMIO_QUEUE_DESC_LO), 0);
}

static void test_request_and_interrupt_status(void **state)
{
	negotiate();
	setup_queue();
	wr(VMMIO_STATUS, 15);
	assert_int_equal(rd(VMMIO_STATUS), 15);
	submit(0x8000, 32, 1);
	/* the interrupt status is raised after the used ring is published */
	assert_true(wait_for(int_vring));
	assert_true(used_one());
	uint32_t len;
	memcpy(&len, vm.ram + 0x3000 + 8, 4);
	assert_int_equal(len, 32);
	wr(VMMIO_INT_ACK, VMMIO_INT_VRING);
	assert_int_equal(rd(VMMIO_INT_STATUS), 0);
}

static void test_malformed_chain_needs_reset(void **state)
{
	negotiate();
	setup_queue();
	wr(VMMIO_STATUS, 15);
	submit(0x7ffffff000ull, 32, 1); /* outside guest memory */
	assert_true(wait_for(needs_reset));
	assert_true(rd(VMMIO_INT_STATUS) & VMMIO_INT_CONFIG);
	/* a reset brings it back */
	negotiate();
	setup_queue();
	wr(VMMIO_STATUS, 15);
	assert_int_equal(rd(VMMIO_STATUS), 15);
	submit(0x8000, 16, 1);
	assert_true(wait_for(used_one));
}

static void test_driver_ok_without_features_ok(void **state)
{
	wr(VMMIO_STATUS, 0);
	wr(VMMIO_STATUS, 3);
	wr(VMMIO_STATUS, 7); /* DRIVER_OK, no FEATURES_OK */
	assert_true(rd(VMMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	wr(VMMIO_STATUS, 0);
	assert_int_equal(rd(VMMIO_STATUS), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_identity_and_features),
	    cmocka_unit_test(test_queue_validation),
	    cmocka_unit_test(test_request_and_interrupt_status),
	    cmocka_unit_test(test_malformed_chain_needs_reset),
	    cmocka_unit_test(test_driver_ok_without_features_ok),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
