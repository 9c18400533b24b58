# mk/libp2pclient.mk - the client library: exported symbols.
#   make check-symbols      (in make check) libp2pclient exports == libp2pclient.sym

# ---- libp2pclient exports ----------------------------------------------------
# Every exported symbol is listed in libp2pclient.sym and named p2p_*; nothing
# of conn.c leaks out.
CHECK_TARGETS += check-symbols
.PHONY: check-symbols
check-symbols: $(BUILD)/libp2pclient.so
	@exp=$$(nm -D --defined-only $(BUILD)/libp2pclient.so | awk '$$2 == "T" || $$2 == "D" || $$2 == "B" {print $$3}' | \
		sed 's/@.*//' | sort); \
	want=$$(sed -n 's/^[[:space:]]*\(p2p_[a-z0-9_]*\);.*/\1/p' libp2pclient/libp2pclient.sym | sort); \
	p=0; f=0; \
	if [ "$$exp" = "$$want" ]; then p=$$((p+1)); else f=$$((f+1)); \
		echo "FAIL symbols: exported set differs from libp2pclient.sym:"; \
		echo "  exported: $$exp" | tr '\n' ' '; echo; echo "  listed: $$want" | tr '\n' ' '; echo; fi; \
	if echo "$$exp" | grep -qv '^p2p_'; then f=$$((f+1)); echo "FAIL symbols: non-p2p_ export"; else p=$$((p+1)); fi; \
	if nm -D --defined-only $(BUILD)/libp2pclient.so | grep -q ' conn_'; then f=$$((f+1)); echo "FAIL symbols: conn_* exported"; else p=$$((p+1)); fi; \
	if readelf -d $(BUILD)/libp2pclient.so | grep -q 'SONAME.*libp2pclient.so.0'; then p=$$((p+1)); else f=$$((f+1)); echo "FAIL symbols: soname"; fi; \
	echo "symbols: $$p passed, $$f failed"; [ $$f -eq 0 ]


# ---- P2P I/O on this machine ---------------------------------------------------
#   make check-io           (in make check) p2p_buffer_pread/pwrite: memfd buffer vs a file
#                           (the p2p paths run in the VM tier: make vmcheck, p2p_io_*)
IO_TEST_BIN := $(BUILD)/tests/test-io
$(IO_TEST_BIN): tests/integration/test-io.c $(BUILD)/libp2pclient.so libp2pclient/p2pclient.h
	@mkdir -p $(dir $@)
	$(CC) $(INC_libp2pclient) $(CFLAGS_BASE) -o $@ $< -L$(BUILD) -lp2pclient -lpthread \
		-Wl,-rpath,$(abspath $(BUILD)) $(LDFLAGS_ALL)

CHECK_TARGETS += check-io
.PHONY: check-io
check-io: $(IO_TEST_BIN)
	@$(IO_TEST_BIN) $(BUILD)
