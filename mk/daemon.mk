# mk/daemon.mk - p2pd: integration tests (with libp2pclient and p2pctl), its
# backends in a guest, `make run`.
#
#   make check-integration  (in make check) real p2pd + libp2pclient + p2pctl, bad input,
#                           socket activation, notify, journal, hotplug, valgrind, systemd
#                           units (verify, exposure), make install + a client from the .pc
#   make check-daemon-vm    udmabuf and dma-heap backends in a TCG guest (beside vmcheck)
#   make run                p2pd on this machine, socket in $(BUILD)/run/

P2P_COMMA := ,

# alloc.c lists the kmod backend (daemon/alloc-kmod.c).
$(BUILD)/obj/daemon/alloc.o: CFLAGS_BASE += -DP2P_HAVE_ALLOC_KMOD=1

# ---- integration tests -------------------------------------------------------
ITEST_BIN := $(BUILD)/tests/itest

$(ITEST_BIN): tests/integration/itest.c $(BUILD)/libp2pclient.so libp2pclient/p2pclient.h proto/proto.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Wno-format-truncation -o $@ $< -L$(BUILD) -lp2pclient \
		-Wl$(P2P_COMMA)-rpath$(P2P_COMMA)$(abspath $(BUILD)) $(LDFLAGS_ALL) $(PKG_LIBS)

CHECK_TARGETS += check-integration
.PHONY: check-integration
check-integration: all $(ITEST_BIN)
	@BUILD=$(BUILD) SAN="$(SAN)" tests/integration/run.sh

# ---- make run: p2pd on this machine -------------------------------------------
RUN_SOCKET := $(abspath $(BUILD))/run/p2pd.sock
.PHONY: run
run: all
	@mkdir -p $(BUILD)/run
	@if $(BUILD)/p2pd --check-config --config config/p2pd.json >/dev/null 2>&1; then \
		cfg="--config config/p2pd.json"; else cfg=""; \
		echo "(config/p2pd.json does not load here: built-in defaults)"; fi; \
	echo "p2pd on this machine's topology, socket $(RUN_SOCKET). In a second terminal:"; \
	echo "  export P2PD_SOCKET=$(RUN_SOCKET)"; \
	echo "  $(BUILD)/p2pctl status | topo | matrix | check BDF BDF | stats | buffers | clients"; \
	echo "  $(BUILD)/p2pctl alloc 1M types=host,memfd name=demo hold=60"; \
	echo "  $(BUILD)/p2pctl reload; $(BUILD)/p2pctl revoke ID"; \
	echo "Ctrl-C stops p2pd."; \
	exec $(BUILD)/p2pd --foreground --log stderr --socket $(RUN_SOCKET) $$cfg

# ---- dma-buf backends in a guest (udmabuf, dma-heap) ---------------------------
# Boots the VM tier's cached guest kernel (tests/vm/build-kernel.sh builds it
# cold in ~5 min); like vmcheck, not in CHECK_TARGETS: CI runs it beside vmcheck.
.PHONY: check-daemon-vm
check-daemon-vm: all $(ITEST_BIN)
	@tests/integration/vm-backends.sh $(BUILD)
