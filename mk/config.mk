# mk/config.mk - p2pd.json parser and policy: fuzzing.
# Unit tests (tests/unit/test-config.c, test-policy.c) run under check-unit.
#
#   make fuzz-config                 libFuzzer on config_parse() + policy, FUZZ_CONFIG_SECONDS (20)
#   make fuzz-config-build           just the binary (clang, -fsanitize=fuzzer,address,undefined)

FUZZ_CONFIG_SECONDS ?= 20
FUZZ_CONFIG_BIN  := $(BUILD)/fuzz/fuzz-config
FUZZ_CONFIG_SRCS := tests/fuzz/fuzz-config.c daemon/config.c daemon/policy.c daemon/topo.c \
                    daemon/pcicfg.c daemon/gpu.c
FUZZ_CONFIG_CORPUS := $(BUILD)/fuzz/corpus-config
FUZZ_TARGETS += fuzz-config

.PHONY: fuzz-config fuzz-config-build

$(FUZZ_CONFIG_BIN): $(FUZZ_CONFIG_SRCS) $(wildcard daemon/*.h)
	@mkdir -p $(dir $@)
	clang $(WARN) -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -D_GNU_SOURCE -Idaemon -Iclient-lib $(PKG_CFLAGS) \
		-o $@ $(FUZZ_CONFIG_SRCS) $(PKG_LIBS)

fuzz-config-build: $(FUZZ_CONFIG_BIN)

# Seeds: every good and bad fixture and the shipped example.  Findings land in
# $(BUILD)/fuzz/ as crash-*/leak-*/timeout-* and fail the target.
fuzz-config: $(FUZZ_CONFIG_BIN)
	@mkdir -p $(FUZZ_CONFIG_CORPUS)
	@cp tests/fixtures/config/good/*.json tests/fixtures/config/bad/*.json config/p2pd.json \
		$(FUZZ_CONFIG_CORPUS)/
	cd $(BUILD)/fuzz && ./fuzz-config -max_total_time=$(FUZZ_CONFIG_SECONDS) -max_len=4096 \
		-timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
		-dict=$(CURDIR)/tests/fuzz/fuzz-config.dict corpus-config
