# mk/fuzz.mk - p2pd.json parser and policy: fuzzing.
# Unit tests (tests/unit/test-config.c, test-policy.c) run under check-unit.
#
#   make fuzz-config                 libFuzzer on config_parse() + policy, FUZZ_CONFIG_SECONDS (20)
#   make fuzz-config-build           just the binary (clang, -fsanitize=fuzzer,address,undefined)
#   make check-config-fuzz           (in make check) the fuzz target over every fixture, once

FUZZ_CONFIG_SECONDS ?= 20
FUZZ_CONFIG_BIN  := $(BUILD)/fuzz/fuzz-config
FUZZ_CONFIG_CORPUS := $(BUILD)/fuzz/corpus-config
FUZZ_TARGETS += fuzz-config
# Ours are built with the project's -Werror warnings; the rest of the daemon core
# (what config.c/policy.c call into, topo.c and whatever it needs) is linked in
# too, warnings not fatal there: clang's set differs from gcc's.
FUZZ_CONFIG_OWN  := tests/fuzz/fuzz-config.c daemon/config.c daemon/config-rules.c daemon/policy.c proto/json.c proto/json-schema.c
FUZZ_CONFIG_REST := $(filter-out $(FUZZ_CONFIG_OWN),$(DAEMON_SRCS) $(CORE_SRCS) $(PROTO_SRCS))
FUZZ_CONFIG_OBJS := $(FUZZ_CONFIG_OWN:%.c=$(BUILD)/fuzz/obj/%.o) $(FUZZ_CONFIG_REST:%.c=$(BUILD)/fuzz/obj/%.o)
FUZZ_CONFIG_CFLAGS = -std=c11 -O1 -g -fno-omit-frame-pointer \
	-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
	-D_GNU_SOURCE $(INC_ALL) $(PKG_CFLAGS) -MMD -MP

.PHONY: fuzz-config fuzz-config-build

$(FUZZ_CONFIG_OWN:%.c=$(BUILD)/fuzz/obj/%.o): $(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(WARN) $(FUZZ_CONFIG_CFLAGS) -c $< -o $@

$(FUZZ_CONFIG_REST:%.c=$(BUILD)/fuzz/obj/%.o): $(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(filter-out -Werror,$(WARN)) -Wno-unknown-warning-option $(FUZZ_CONFIG_CFLAGS) -c $< -o $@

$(FUZZ_CONFIG_BIN): $(FUZZ_CONFIG_OBJS)
	clang -fsanitize=fuzzer,address,undefined -o $@ $(FUZZ_CONFIG_OBJS) $(PKG_LIBS)

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

# Deterministic part, in `make check`: the fuzz target (with all its sanitizers
# and invariants) over every fixture, the example and the saved fuzz findings
# (tests/fixtures/config/fuzz/).  One input = one test.
CHECK_TARGETS += check-config-fuzz
CONFIG_FUZZ_INPUTS = $(wildcard tests/fixtures/config/good/*.json tests/fixtures/config/bad/*.json \
		      tests/fixtures/config/fuzz/*) config/p2pd.json

.PHONY: check-config-fuzz
check-config-fuzz:
	@mkdir -p $(BUILD)
	@if ! command -v clang >/dev/null 2>&1; then \
		echo "check-config-fuzz: clang not installed: cannot build the fuzz target" >&2; \
		echo "config-fuzz: 0 passed, 1 failed"; exit 1; fi
	@if ! $(MAKE) --no-print-directory $(FUZZ_CONFIG_BIN) >$(BUILD)/fuzz-config-build.log 2>&1; then \
		cat $(BUILD)/fuzz-config-build.log; \
		echo "check-config-fuzz: building $(FUZZ_CONFIG_BIN) failed" >&2; \
		echo "config-fuzz: 0 passed, 1 failed"; exit 1; fi
	@p=0; f=0; for x in $(CONFIG_FUZZ_INPUTS); do \
		if $(FUZZ_CONFIG_BIN) $$x >$(BUILD)/fuzz-config-run.log 2>&1; then p=$$((p+1)); \
		else f=$$((f+1)); cat $(BUILD)/fuzz-config-run.log; echo "FAIL config-fuzz: $$x"; fi; \
	done; echo "config-fuzz: $$p passed, $$f failed"; [ $$f -eq 0 ]

-include $(shell find $(BUILD)/fuzz/obj -name '*.d' 2>/dev/null)
