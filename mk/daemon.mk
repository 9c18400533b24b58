# mk/daemon.mk - p2pd, libp2pclient, p2pctl online mode, systemd units,
# integration tests, fuzzing, benchmark, install, `make run`.
#
#   make check-integration  (in make check) real p2pd + libp2pclient + p2pctl, bad input,
#                           socket activation, notify, journal, hotplug, valgrind, systemd
#                           units (verify, exposure), make install + a client from the .pc
#   make check-proto        (in make check) cmocka tests of the wire codec
#   make check-proto-fuzz   (in make check) the fuzz harness over its seeds
#   make check-symbols      (in make check) libp2pclient exports == libp2pclient.sym
#   make check-daemon-vm    udmabuf and dma-heap backends in a TCG guest (beside vmcheck)
#   make fuzz-proto         libFuzzer, FUZZ_PROTO_SECONDS (20); `make fuzz` runs it
#   make bench-alloc        allocation latency/throughput vs the limit, RSS per 10k buffers
#   make install            DESTDIR/PREFIX, Debian layout
#   make run                p2pd on this machine, socket in $(BUILD)/run/

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
	@BUILD=$(BUILD) SAN="$(SAN)" tests/integration/run.sh

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

# ---- libp2pclient exports ----------------------------------------------------
# Every exported symbol is listed in libp2pclient.sym and named p2p_*; nothing
# of conn.c leaks out.
CHECK_TARGETS += check-symbols
.PHONY: check-symbols
check-symbols: $(LIB_SO)
	@exp=$$(nm -D --defined-only $(LIB_SO) | awk '$$2 == "T" || $$2 == "D" || $$2 == "B" {print $$3}' | \
		sed 's/@.*//' | sort); \
	want=$$(sed -n 's/^[[:space:]]*\(p2p_[a-z0-9_]*\);.*/\1/p' client-lib/libp2pclient.sym | sort); \
	p=0; f=0; \
	if [ "$$exp" = "$$want" ]; then p=$$((p+1)); else f=$$((f+1)); \
		echo "FAIL symbols: exported set differs from libp2pclient.sym:"; \
		echo "  exported: $$exp" | tr '\n' ' '; echo; echo "  listed: $$want" | tr '\n' ' '; echo; fi; \
	if echo "$$exp" | grep -qv '^p2p_'; then f=$$((f+1)); echo "FAIL symbols: non-p2p_ export"; else p=$$((p+1)); fi; \
	if nm -D --defined-only $(LIB_SO) | grep -q ' conn_'; then f=$$((f+1)); echo "FAIL symbols: conn_* exported"; else p=$$((p+1)); fi; \
	if readelf -d $(LIB_SO) | grep -q 'SONAME.*libp2pclient.so.0'; then p=$$((p+1)); else f=$$((f+1)); echo "FAIL symbols: soname"; fi; \
	echo "symbols: $$p passed, $$f failed"; [ $$f -eq 0 ]

# ---- install (Debian layout) ---------------------------------------------------
#   make install DESTDIR=/tmp/stage PREFIX=/usr
PREFIX ?= /usr
SYSCONFDIR ?= /etc
MULTIARCH := $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || $(CC) -print-multiarch 2>/dev/null)
LIBDIR ?= $(PREFIX)/lib$(if $(MULTIARCH),/$(MULTIARCH))
UNITDIR ?= $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/p2pbroker

.PHONY: install
install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LIBDIR)/pkgconfig \
		$(DESTDIR)$(PREFIX)/include $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(SYSCONFDIR)/p2pd
	install -m 0755 $(BUILD)/p2pd $(DESTDIR)$(PREFIX)/sbin/p2pd
	install -m 0755 $(BUILD)/p2pctl $(DESTDIR)$(PREFIX)/bin/p2pctl
	install -m 0644 $(BUILD)/libp2pclient.so $(DESTDIR)$(LIBDIR)/libp2pclient.so.0
	ln -sf libp2pclient.so.0 $(DESTDIR)$(LIBDIR)/libp2pclient.so
	install -m 0644 client-lib/p2pclient.h $(DESTDIR)$(PREFIX)/include/p2pclient.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@VERSION@|$(P2P_VERSION)|' \
		client-lib/libp2pclient.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/libp2pclient.pc
	sed -e 's|/usr/sbin/p2pd|$(PREFIX)/sbin/p2pd|' systemd/p2pd.service \
		>$(DESTDIR)$(UNITDIR)/p2pd.service
	install -m 0644 systemd/p2pd.socket $(DESTDIR)$(UNITDIR)/p2pd.socket
	install -m 0644 systemd/p2pd.sysusers $(DESTDIR)$(SYSUSERSDIR)/p2pd.conf
	install -m 0644 config/p2pd.json $(DESTDIR)$(DOCDIR)/examples/p2pd.json
	for m in $(wildcard man/*.1); do install -m 0644 $$m $(DESTDIR)$(MANDIR)/man1/; done
	for m in $(wildcard man/*.5); do install -m 0644 $$m $(DESTDIR)$(MANDIR)/man5/; done
	for m in $(wildcard man/*.7); do install -m 0644 $$m $(DESTDIR)$(MANDIR)/man7/; done
	for m in $(wildcard man/*.8); do install -m 0644 $$m $(DESTDIR)$(MANDIR)/man8/; done

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

# ---- benchmark: bench-alloc ----------------------------------------------------
BENCH_ALLOC_OPS ?= 20000
$(BUILD)/bench/bench-alloc: bench/alloc.c $(LIB_SO) client-lib/p2pclient.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< -L$(BUILD) -lp2pclient \
		-Wl$(P2P_COMMA)-rpath$(P2P_COMMA)$(abspath $(BUILD)) $(LDFLAGS_ALL) $(PKG_LIBS)

.PHONY: bench-alloc
bench-alloc: all $(BUILD)/bench/bench-alloc
	$(BUILD)/bench/bench-alloc $(BUILD)/p2pd tests/fixtures/sysfs/qemu-q35 $(BENCH_ALLOC_OPS)

# ---- codec unit tests (cmocka) -----------------------------------------------
$(BUILD)/tests/test-proto: tests/integration/test-proto.c $(BUILD)/libp2pcore.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(BUILD)/libp2pcore.a $(LDFLAGS_ALL) $(PKG_LIBS) $(CMOCKA_LIBS)

CHECK_TARGETS += check-proto
.PHONY: check-proto
check-proto: $(BUILD)/tests/test-proto
	@bash -o pipefail -c 'tests/run-unit.sh $(BUILD)/tests/test-proto | sed "s/^unit:/proto:/"'

# ---- dma-buf backends in a guest (udmabuf, dma-heap) ---------------------------
# Boots the VM tier's cached guest kernel (tests/vm/build-kernel.sh builds it
# cold in ~5 min); like vmcheck, not in CHECK_TARGETS: CI runs it beside vmcheck.
.PHONY: check-daemon-vm
check-daemon-vm: all $(ITEST_BIN)
	@tests/integration/vm-backends.sh $(BUILD)
