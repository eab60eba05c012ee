# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# xdpsvc: `make` builds build/xdpsvc (BPF objects embedded via bpftool
# skeletons); `make test` installs what is missing, builds and runs all tests.

# SANITIZE=1: the loader, the C tests and the tools with ASan and UBSan, in
# their own directory (build-san) so a normal build in build/ stays as it is.
ifeq ($(SANITIZE),1)
BUILD   ?= build-san
endif
BUILD   ?= build
CLANG   ?= clang
BPFTOOL ?= bpftool
CC      ?= cc
PREFIX  ?= /usr/local
DESTDIR ?=
V       ?= 0

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/;s/ppc64le/powerpc/;s/s390x/s390/')
# System include dirs for the BPF target, so <asm/types.h> is found
# (libbpf-bootstrap examples/c/Makefile).
CLANG_BPF_SYS_INCLUDES = $(shell $(CLANG) -v -E - </dev/null 2>&1 \
	| sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')

# BPF_EXTRA: more flags for the BPF objects (the live-update test builds a
# second, different binary with -mcpu=v3 to re-attach over the first).
BPF_EXTRA ?=
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror -Iinclude -Ibpf $(BPF_EXTRA)
CFLAGS  ?= -O2 -g
CFLAGS  += -Wall -Wextra -Werror -Wno-unused-parameter -Iinclude -I$(BUILD) -D_GNU_SOURCE
LDLIBS  := -lbpf -lelf -lz -lyaml

ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

BPF_PROGS   := xdp tc
BPF_OBJS    := $(patsubst %,$(BUILD)/%.bpf.o,$(BPF_PROGS))
SKELS       := $(patsubst %,$(BUILD)/%.skel.h,$(BPF_PROGS))
BPF_HDRS    := $(wildcard bpf/*.h) include/xdpsvc.h

LOADER_SRCS := $(wildcard loader/*.c)
LOADER_HDRS := $(wildcard loader/*.h) include/xdpsvc.h
LOADER_OBJS := $(patsubst loader/%.c,$(BUILD)/loader/%.o,$(LOADER_SRCS))
# Everything but main(): linked into the tests too.
LIB_OBJS    := $(filter-out $(BUILD)/loader/main.o,$(LOADER_OBJS))

TEST_SRCS   := $(wildcard tests/*.c) $(wildcard tests/tools/*.c)
TEST_BINS   := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))

.PHONY: all clean install uninstall test test-bins deps demo bench
.DELETE_ON_ERROR:
.SECONDARY: $(BPF_OBJS) $(SKELS)

all: $(BUILD)/xdpsvc

$(BUILD) $(BUILD)/loader $(BUILD)/tests $(BUILD)/tests/tools:
	$(Q)mkdir -p $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) $(CLANG_BPF_SYS_INCLUDES) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name xs_$* > $@

$(BUILD)/loader/%.o: loader/%.c $(LOADER_HDRS) $(SKELS) | $(BUILD)/loader
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/xdpsvc: $(LOADER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/%.c $(LIB_OBJS) $(LOADER_HDRS) $(wildcard tests/*.h) | $(BUILD)/tests $(BUILD)/tests/tools
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Iloader -Itests $< $(LIB_OBJS) $(LDFLAGS) $(LDLIBS) -o $@

# BPF fixtures of the tests (tests/bpf/*.bpf.c), loaded with ip link.
TEST_BPF    := $(patsubst tests/bpf/%.bpf.c,$(BUILD)/tests/%.bpf.o,$(wildcard tests/bpf/*.bpf.c))
$(BUILD)/tests/%.bpf.o: tests/bpf/%.bpf.c | $(BUILD)/tests
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) $(CLANG_BPF_SYS_INCLUDES) -c $< -o $@

test-bins: $(BUILD)/xdpsvc $(TEST_BINS) $(TEST_BPF)

deps:
	$(Q)scripts/install-deps.sh

# Installs what is missing, builds, runs every suite; ends with "N passed, N failed".
test: deps
	$(Q)$(MAKE) --no-print-directory test-bins
	$(Q)BUILD=$(BUILD) tests/run.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory test-bins
	$(Q)BUILD=$(BUILD) scripts/demo.sh

# apply cost at 10,000 Services x 10 endpoints; table + $(BUILD)/bench/apply.json.
bench: deps
	$(Q)$(MAKE) --no-print-directory test-bins
	$(Q)BUILD=$(BUILD) scripts/bench_pkt.sh
	$(Q)BUILD=$(BUILD) scripts/bench_live.sh
	$(Q)BUILD=$(BUILD) scripts/bench.sh
	$(Q)BUILD=$(BUILD) scripts/bench_summary.sh

install: $(BUILD)/xdpsvc
	install -D -m 0755 $(BUILD)/xdpsvc $(DESTDIR)$(PREFIX)/sbin/xdpsvc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/xdpsvc

clean:
	rm -rf $(BUILD)

# --- fuzzing the config reader (tests/fuzz/): libFuzzer + ASan + UBSan.
# `make fuzz` runs it FUZZ_SECONDS on the working corpus $(BUILD)/fuzz/corpus
# (seeded from tests/fuzz/corpus), writes what it finds to
# $(BUILD)/fuzz/artifacts and fails if it found anything; `make test` runs it
# 60 s as the suite tests/fuzz_config.sh (FUZZ_SECONDS there).
FUZZ_SECONDS ?= 300
FUZZ_SRCS   := loader/k8s.c loader/model.c loader/addr.c
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	       -fno-omit-frame-pointer -Wall -Wextra -Werror -Wno-unused-parameter \
	       -Iinclude -Iloader -D_GNU_SOURCE
.PHONY: fuzz fuzz-bin
$(BUILD)/fuzz:
	$(Q)mkdir -p $@
$(BUILD)/fuzz/fuzz_config: tests/fuzz/fuzz_config.c $(FUZZ_SRCS) $(LOADER_HDRS) | $(BUILD)/fuzz
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $< $(FUZZ_SRCS) -lyaml -o $@
fuzz-bin: $(BUILD)/fuzz/fuzz_config
test-bins: $(BUILD)/fuzz/fuzz_config
fuzz: deps
	$(Q)$(MAKE) --no-print-directory fuzz-bin
	$(Q)BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz_config.sh
