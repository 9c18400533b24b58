# mk/daemon.mk - p2pd, libp2pclient, p2pctl online mode, systemd units,
# integration tests, fuzzing, benchmark, install, `make run`.

P2P_VERSION ?= 0.1
P2P_COMMA := ,

# The kmod backend slot (daemon/alloc-kmod.c, written with kmod/) is compiled in
# when the file exists.
ifneq ($(wildcard daemon/alloc-kmod.c),)
$(BUILD)/obj/daemon/alloc.o: CFLAGS_ALL += -DP2P_HAVE_ALLOC_KMOD=1
$(BUILD)/obj/daemon/alloc.o: daemon/alloc-kmod.c
endif

# ---- integration tests -------------------------------------------------------
ITEST_BIN := $(BUILD)/tests/itest

$(ITEST_BIN): tests/integration/itest.c $(LIB_SO) client-lib/p2pclient.h client-lib/proto.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Wno-format-truncation -o $@ $< -L$(BUILD) -lp2pclient \
		-Wl$(P2P_COMMA)-rpath$(P2P_COMMA)$(abspath $(BUILD)) $(LDFLAGS_ALL) $(PKG_LIBS)

CHECK_TARGETS += check-integration
.PHONY: check-integration
check-integration: all $(ITEST_BIN)
	@BUILD=$(BUILD) tests/integration/run.sh

# ---- fuzzing the protocol decoder -------------------------------------------
#   make fuzz-proto          libFuzzer on conn_decode_request()/conn_recv(), FUZZ_PROTO_SECONDS (20)
#   make check-proto-fuzz    (in make check) the harness over its seed inputs, once each
FUZZ_PROTO_SECONDS ?= 20
FUZZ_PROTO_BIN := $(BUILD)/fuzz/fuzz-proto
FUZZ_PROTO_CORPUS := $(BUILD)/fuzz/corpus-proto
FUZZ_TARGETS += fuzz-proto

$(FUZZ_PROTO_BIN): tests/fuzz/fuzz-proto.c client-lib/conn.c client-lib/conn.h client-lib/proto.h
	@mkdir -p $(dir $@)
	clang $(WARN) -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -D_GNU_SOURCE -Iclient-lib $(PKG_CFLAGS) \
		-o $@ tests/fuzz/fuzz-proto.c client-lib/conn.c $(shell pkg-config --libs json-c)

# Seeds: one file per request shape (opcode byte + JSON), and framed datagrams.
$(FUZZ_PROTO_CORPUS)/.seeded: tests/fuzz/fuzz-proto-seeds.sh
	@mkdir -p $(FUZZ_PROTO_CORPUS)
	@tests/fuzz/fuzz-proto-seeds.sh $(FUZZ_PROTO_CORPUS)
	@touch $@

.PHONY: fuzz fuzz-proto check-proto-fuzz
fuzz: fuzz-proto
fuzz-proto: $(FUZZ_PROTO_BIN) $(FUZZ_PROTO_CORPUS)/.seeded
	cd $(BUILD)/fuzz && ./fuzz-proto -max_total_time=$(FUZZ_PROTO_SECONDS) -max_len=4096 \
		-timeout=10 -rss_limit_mb=1024 -print_final_stats=1 corpus-proto

CHECK_TARGETS += check-proto-fuzz
check-proto-fuzz:
	@if ! command -v clang >/dev/null 2>&1; then \
		echo "check-proto-fuzz: clang not installed: cannot build the fuzz target" >&2; \
		echo "proto-fuzz: 0 passed, 1 failed"; exit 1; fi
	@if ! $(MAKE) --no-print-directory $(FUZZ_PROTO_BIN) $(FUZZ_PROTO_CORPUS)/.seeded \
		>$(BUILD)/fuzz-proto-build.log 2>&1; then cat $(BUILD)/fuzz-proto-build.log; \
		echo "proto-fuzz: 0 passed, 1 failed"; exit 1; fi
	@p=0; f=0; for x in $(FUZZ_PROTO_CORPUS)/seed-*; do \
		if $(FUZZ_PROTO_BIN) $$x >$(BUILD)/fuzz-proto-run.log 2>&1; then p=$$((p+1)); \
		else f=$$((f+1)); cat $(BUILD)/fuzz-proto-run.log; echo "FAIL proto-fuzz: $$x"; fi; \
	done; echo "proto-fuzz: $$p passed, $$f failed"; [ $$f -eq 0 ] && [ $$p -gt 0 ]
