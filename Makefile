# runm — OCI runtime that runs each container in its own KVM microVM.
#
#   make            build/runm, build/runm-vmm, static build/runm-agent, guest initramfs
#   make demo       install deps, build everything incl. the guest kernel, run a container
#   make test       install deps, build, unit tests (ASan+UBSan), lint, fuzzers, integration tests
#   make asan       the same binaries with ASan+UBSan in build/asan/
#   make fuzz       libFuzzer targets in build/fuzz/   (make fuzz-run FUZZ_SECONDS=N)
#   make fuzz-long  the fuzzing campaign: every target to 10 M runs or FUZZ_LONG_SECONDS, JSON
#   make guest      guest kernel (cached in ~/.cache/runm) and initramfs
#   make install    PREFIX=/usr/local DESTDIR=
#   make lint       clang-format check, cppcheck, clang-tidy;  make format  clang-format -i
.DEFAULT_GOAL := all
.SUFFIXES:
.DELETE_ON_ERROR:
.SECONDARY:

PREFIX  ?= /usr/local
DESTDIR ?=
PYTHON  ?= /usr/bin/python3
FUZZ_SECONDS ?= 10
FUZZ_LONG_SECONDS ?= 600
FUZZ_LONG_RUNS ?= 10000000
PYTEST_ARGS ?=

include mk/rules.mk
# Each directory declares its programs, tests and fuzzers in its own module.mk.
include common/module.mk
include $(filter-out common/module.mk,$(sort $(wildcard */module.mk */*/module.mk */*/*/module.mk)))

$(foreach p,$(PROGRAMS),$(eval $(call PROGRAM_template,$(p))))
$(foreach t,$(UNIT_TESTS),$(eval $(call UNIT_template,$(t))))
$(foreach f,$(FUZZERS),$(eval $(call FUZZ_template,$(f))))

BINARIES := $(addprefix $(B)/,$(PROGRAMS))
GUEST    := $(B)/guest

.PHONY: all asan unit fuzz fuzz-run fuzz-long guest kernel initramfs test integration demo deps \
	install uninstall clean lint format bench

all: $(BINARIES) $(GUEST)/initramfs.cpio $(EXTRA_ALL)

asan: $(addprefix $(BA)/,$(PROGRAMS))

deps:
	@hack/deps.sh

# --- guest kernel and initramfs ------------------------------------------------
kernel: $(GUEST)/vmlinux
$(GUEST)/vmlinux $(GUEST)/bzImage &: rootfs-builder/kernel/runm.config rootfs-builder/build-kernel.sh
	rootfs-builder/build-kernel.sh $(GUEST)
	@touch $(GUEST)/vmlinux $(GUEST)/bzImage

initramfs: $(GUEST)/initramfs.cpio
$(GUEST)/initramfs.cpio: $(B)/runm-agent rootfs-builder/mkinitramfs.py
	@mkdir -p $(@D)
	$(PYTHON) rootfs-builder/mkinitramfs.py --init $(B)/runm-agent -o $@

guest: kernel initramfs

# --- tests ----------------------------------------------------------------------
unit: $(addprefix $(BA)/tests/unit/,$(UNIT_TESTS))
	@set -e; for t in $^; do echo "== $$t"; $$t; done

fuzz: $(addprefix $(BF)/,$(FUZZERS))

fuzz-run: fuzz
	@set -e; for f in $(FUZZERS); do \
	  seeds=tests/fuzz/corpus/$$f; work=$(BF)/corpus/$$f; mkdir -p $$work; \
	  echo "== fuzz $$f for $(FUZZ_SECONDS)s"; \
	  $(BF)/$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 -close_fd_mask=3 \
	    $$work $$( [ -d $$seeds ] && echo $$seeds ) 2>$(BF)/$$f.log \
	    || { tail -n 60 $(BF)/$$f.log; echo "fuzz $$f: crash (log $(BF)/$$f.log)"; exit 1; }; \
	done

# The campaign (numbers, not CI time): each target to FUZZ_LONG_RUNS executions or
# FUZZ_LONG_SECONDS, grown corpora merged (minimised) into tests/fuzz/corpus, JSON per target.
fuzz-long: fuzz
	@$(PYTHON) hack/fuzz_long.py --bin $(BF) --seconds $(FUZZ_LONG_SECONDS) --runs $(FUZZ_LONG_RUNS) $(FUZZERS)

integration: all asan guest $(TEST_DEPS)
	@tests/run-pytest $(PYTEST_ARGS)

test: deps
	@$(MAKE) --no-print-directory all asan guest $(TEST_DEPS)
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory fuzz-run
	@tests/run-pytest $(PYTEST_ARGS)

demo: deps
	@$(MAKE) --no-print-directory all guest
	@hack/demo.sh

bench: all guest
	@set -e; for b in bench/*.sh bench/*.py; do [ -e "$$b" ] || continue; echo "== $$b" >&2; \
	  case $$b in *.py) $(PYTHON) $$b ;; *) bash $$b ;; esac; done

# --- install --------------------------------------------------------------------
install: all guest
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/runm
	install -m 0755 $(BINARIES) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 $(GUEST)/vmlinux $(GUEST)/bzImage $(GUEST)/initramfs.cpio $(DESTDIR)$(PREFIX)/share/runm/

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/bin/,$(PROGRAMS))
	rm -rf $(DESTDIR)$(PREFIX)/share/runm

clean:
	rm -rf $(B)

# --- code hygiene ---------------------------------------------------------------
C_SOURCES = $(sort $(ALL_SRCS))
lint:
	@# the code is what .clang-format says (make format fixes it)
	clang-format --dry-run -Werror $(C_SOURCES) $(wildcard */*.h */*/*.h */*/*/*.h)
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem -D__x86_64__ -I. -Icommon $(C_SOURCES)
	@# The analyzer does not know cmocka's failing asserts end the test: tests get cppcheck only.
	clang-tidy --quiet $(filter-out tests/%,$(C_SOURCES)) -- $(filter-out -MMD -MP,$(BASE_CFLAGS)) $(NL_CFLAGS)

format:
	clang-format -i $(C_SOURCES) $(wildcard */*.h */*/*.h */*/*/*.h)

-include $(patsubst %.c,$(B)/obj/%.d,$(ALL_SRCS)) $(patsubst %.c,$(BA)/obj/%.d,$(ALL_SRCS)) \
	$(patsubst %.c,$(BF)/obj/%.d,$(ALL_SRCS))
