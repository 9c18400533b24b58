# mk/bench.mk - benchmarks (never in make check; they print ratios, tests never time).
#   make bench-topo       discovery/matrix timings vs lspci and lstopo on 64/512/4096 functions
#   make bench-alloc      allocation latency/throughput vs the limit, RSS per 10k buffers
BENCH_SIZES ?= 64 512 4096
BENCH_RUNS ?= 5
.PHONY: bench-topo

$(BUILD)/bench/bench-topo: bench/topo/bench-topo.c $(BUILD)/libp2pcore.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(BUILD)/libp2pcore.a $(LDFLAGS_ALL) $(PKG_LIBS)

bench-topo: $(BUILD)/bench/bench-topo
	@BUILD=$(BUILD) BENCH_SIZES="$(BENCH_SIZES)" BENCH_RUNS=$(BENCH_RUNS) bench/topo/run.sh

# ---- benchmark: bench-alloc ----------------------------------------------------
BENCH_ALLOC_OPS ?= 20000
$(BUILD)/bench/bench-alloc: bench/alloc.c $(BUILD)/libp2pclient.so libp2pclient/p2pclient.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< -L$(BUILD) -lp2pclient \
		-Wl$(P2P_COMMA)-rpath$(P2P_COMMA)$(abspath $(BUILD)) $(LDFLAGS_ALL) $(PKG_LIBS)

.PHONY: bench-alloc
bench-alloc: all $(BUILD)/bench/bench-alloc
	$(BUILD)/bench/bench-alloc $(BUILD)/p2pd tests/fixtures/sysfs/qemu-q35 $(BENCH_ALLOC_OPS)


# ---- benchmark: bench-io (P2P I/O in the 6.12 VM guest) -------------------------
# bench/io/io-bench.c runs in the max guest after the p2p_io_* scenarios: the
# same NVMe -> p2p buffer transfer direct and bounced, host-memory bytes per
# byte moved and CPU time per GiB side by side.
.PHONY: bench-io
bench-io:
	@P2P_VM_KERNELS=6.12 P2P_VM_SETUPS=max $(MAKE) --no-print-directory vmcheck | \
		grep -E 'bench-io|p2p_io|^vmcheck'
