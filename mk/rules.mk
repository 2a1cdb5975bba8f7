# Shared build rules. Each directory's module.mk declares what it builds with
# variables; this file turns them into rules for every flavour.
#
#   PROGRAMS += name            name_SRCS, name_LIBS, name_STATIC_LIBS
#   CFLAGS_<dir with / as _> := … extra flags for the sources of one directory (agent/: CFLAGS_agent_)
#   STATIC_PROGRAMS += name     linked -static in the normal flavour (name_STATIC_LIBS)
#   UNIT_TESTS += name          cmocka tests, always built with ASan+UBSan
#   FUZZERS += name             libFuzzer targets (clang), name_SRCS without main()
#
# Flavours: build/ (release, -O2), build/asan/ (ASan+UBSan), build/fuzz/ (clang).

B      := build
BA     := $(B)/asan
BF     := $(B)/fuzz

CC      ?= cc
CLANG   ?= clang
WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-unused-parameter
BASE_CFLAGS := -std=gnu11 -D_GNU_SOURCE -g $(WARN) -I. -Icommon -MMD -MP
OPT     ?= -O2
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
CFLAGS  ?=
LDFLAGS ?=

ALL_SRCS :=

# --- objects, one rule per flavour -------------------------------------------
$(B)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(OPT) $(CFLAGS) $(CFLAGS_$(subst /,_,$(dir $<))) -c $< -o $@

$(BA)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -O1 $(SAN) $(CFLAGS) $(CFLAGS_$(subst /,_,$(dir $<))) -c $< -o $@

$(BF)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CLANG) $(BASE_CFLAGS) -O1 -fsanitize=fuzzer-no-link,address,undefined $(CFLAGS_$(subst /,_,$(dir $<))) -c $< -o $@

# --- programs -----------------------------------------------------------------
# $(1) = program name
define PROGRAM_template
ALL_SRCS += $$($(1)_SRCS)
$(B)/$(1): $$(patsubst %.c,$(B)/obj/%.o,$$($(1)_SRCS))
	@mkdir -p $$(@D)
	$$(CC) $(LDFLAGS) -o $$@ $$^ $$(if $$(filter $(1),$$(STATIC_PROGRAMS)),-static $$($(1)_STATIC_LIBS),$$($(1)_LIBS))
$(BA)/$(1): $$(patsubst %.c,$(BA)/obj/%.o,$$($(1)_SRCS))
	@mkdir -p $$(@D)
	$$(CC) $(SAN) $(LDFLAGS) -o $$@ $$^ $$($(1)_LIBS)
endef

define UNIT_template
ALL_SRCS += $$($(1)_SRCS)
$(BA)/tests/unit/$(1): $$(patsubst %.c,$(BA)/obj/%.o,$$($(1)_SRCS))
	@mkdir -p $$(@D)
	$$(CC) $(SAN) -o $$@ $$^ $$($(1)_LIBS) -lcmocka
endef

define FUZZ_template
ALL_SRCS += $$($(1)_SRCS)
$(BF)/$(1): $$(patsubst %.c,$(BF)/obj/%.o,$$($(1)_SRCS))
	@mkdir -p $$(@D)
	$(CLANG) -fsanitize=fuzzer,address,undefined -o $$@ $$^ $$($(1)_LIBS)
endef

