# mk/daemon.mk - p2pd, libp2pclient, p2pctl online mode, systemd units,
# integration tests, fuzzing, benchmark, install, `make run`.

P2P_VERSION ?= 0.1
P2P_COMMA := ,

# The top-level rule's $(if ...,-Wl,--version-script=...) splits on the comma;
# this recipe (same prerequisites) replaces it until the Makefile is fixed.
$(BUILD)/libp2pclient.so: $(LIB_OBJS) client-lib/libp2pclient.sym
	$(CC) -shared -o $@ $(LIB_OBJS) $(LDFLAGS_ALL) -Wl$(P2P_COMMA)-soname$(P2P_COMMA)libp2pclient.so.0 \
		-Wl$(P2P_COMMA)--version-script=client-lib/libp2pclient.sym -Wl$(P2P_COMMA)-z$(P2P_COMMA)defs \
		$(shell pkg-config --libs json-c)
	ln -sf libp2pclient.so $(BUILD)/libp2pclient.so.0

# Same comma problem in the top-level p2pctl rule (-Wl,-rpath,'$ORIGIN').
$(BUILD)/p2pctl: $(CTL_OBJS) $(BUILD)/libp2pcore.a $(LIB_SO)
	$(CC) -o $@ $(CTL_OBJS) $(BUILD)/libp2pcore.a -L$(BUILD) -lp2pclient \
		-Wl$(P2P_COMMA)-rpath$(P2P_COMMA)'$$ORIGIN' $(LDFLAGS_ALL) $(PKG_LIBS)
