# mk/proto.mk - the wire protocol: codec unit tests and the decoder fuzzer.
#   make check-proto        (in make check) cmocka tests of the wire codec
#   make check-proto-fuzz   (in make check) the fuzz harness over its seed inputs
#   make fuzz-proto         libFuzzer, FUZZ_PROTO_SECONDS (20); `make fuzz` runs it

# ---- codec unit tests (cmocka) -----------------------------------------------
$(BUILD)/tests/test-proto: tests/integration/test-proto.c $(BUILD)/libp2pproto.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(BUILD)/libp2pproto.a $(LDFLAGS_ALL) $(PKG_LIBS) $(CMOCKA_LIBS)

CHECK_TARGETS += check-proto
.PHONY: check-proto
check-proto: $(BUILD)/tests/test-proto
	@bash -o pipefail -c 'tests/run-unit.sh $(BUILD)/tests/test-proto | sed "s/^unit:/proto:/"'

# ---- fuzzing the protocol decoder -------------------------------------------
#   make fuzz-proto          libFuzzer on conn_decode_request()/conn_recv(), FUZZ_PROTO_SECONDS (20)
#   make check-proto-fuzz    (in make check) the harness over its seed inputs, once each
FUZZ_PROTO_SECONDS ?= 20
FUZZ_PROTO_BIN := $(BUILD)/fuzz/fuzz-proto
FUZZ_PROTO_CORPUS := $(BUILD)/fuzz/corpus-proto
FUZZ_TARGETS += fuzz-proto

$(FUZZ_PROTO_BIN): tests/fuzz/fuzz-proto.c proto/conn.c proto/conn.h proto/json.c proto/json-schema.c proto/json.h proto/proto.h
	@mkdir -p $(dir $@)
	clang $(WARN) -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -D_GNU_SOURCE -Iproto $(PKG_CFLAGS) \
		-o $@ tests/fuzz/fuzz-proto.c proto/conn.c proto/json.c proto/json-schema.c $(shell pkg-config --libs json-c)

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

