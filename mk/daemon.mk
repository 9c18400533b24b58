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
