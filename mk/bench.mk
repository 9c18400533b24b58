# bench.mk - synthetic sysfs fixtures, their checker, and the topology benchmark.
#   make check-fixtures   p2pctl --fsroot on every tests/fixtures/sysfs/<case> vs its tables
#   make fixtures-regen   rewrite the committed preset cases from tests/fixtures/gen-fabric.py
#   make bench-topo       discovery/matrix timings vs lspci and lstopo on 64/512/4096 functions

CHECK_TARGETS += check-fixtures

FIXTURE_PRESETS = $(shell python3 tests/fixtures/gen-fabric.py --list)
BENCH_SIZES ?= 64 512 4096
BENCH_RUNS ?= 5

.PHONY: check-fixtures fixtures-regen bench-topo

# p2pctl is built first; if that fails the checker still runs and counts every row failed.
check-fixtures:
	@$(MAKE) --no-print-directory $(BUILD)/p2pctl >/dev/null || \
		echo "check-fixtures: building $(BUILD)/p2pctl failed" >&2
	@P2PCTL=$(BUILD)/p2pctl tests/fixtures/check-fixtures.sh

fixtures-regen:
	@for p in $(FIXTURE_PRESETS); do \
		tests/fixtures/gen-fabric.py tests/fixtures/sysfs/$$p --preset $$p --force || exit 1; \
	done

$(BUILD)/bench/bench-topo: bench/topo/bench-topo.c $(BUILD)/libp2pcore.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(BUILD)/libp2pcore.a $(LDFLAGS_ALL) $(PKG_LIBS)

bench-topo: $(BUILD)/bench/bench-topo
	@BUILD=$(BUILD) BENCH_SIZES="$(BENCH_SIZES)" BENCH_RUNS=$(BENCH_RUNS) bench/topo/run.sh
