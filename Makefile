# p2pbroker top-level build (userspace).  The folders are the layers:
#   core/          -> build/libp2pcore.a    topology, config space, libdrm, verdicts, reports
#   proto/         -> build/libp2pproto.a   the wire protocol: framing, fd passing, JSON
#   daemon/        -> build/p2pd            (daemon/*.c but main.c also -> build/libp2pd.a for tests)
#   libp2pclient/  -> build/libp2pclient.so the client library (p2pclient.h)
#   p2pctl/        -> build/p2pctl          the admin CLI (online + offline)
#   kmod/          the kernel module, its own Kbuild (mk/kmod.mk)
# Arrows point one way: p2pctl -> libp2pclient -> proto; daemon -> core, proto;
# p2pctl -> core.  Each layer compiles with only the include paths it may use.
# Component fragments: mk/<component>.mk (explicit source lists, their checks).

CC      ?= cc
comma   := ,
BUILD   ?= build
PKGS    := json-c libevent libsystemd libdrm zlib libudev
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))
CMOCKA_LIBS := $(shell pkg-config --libs cmocka)

WARN    := -std=c11 -Wall -Wextra -Werror -Wmissing-prototypes -Wstrict-prototypes -Wvla \
           -Wimplicit-fallthrough -Wshadow -Wformat=2
OPT     ?= -O2 -g
SAN     ?=
CFLAGS_BASE := $(WARN) $(OPT) $(SAN) -D_GNU_SOURCE -fPIC $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS_ALL := $(SAN) $(EXTRA_LDFLAGS)

# Include paths per layer: what a layer may see.
INC_core         := -Icore
INC_proto        := -Iproto
INC_daemon       := -Idaemon -Icore -Iproto -Ikmod/include/uapi
INC_libp2pclient := -Ilibp2pclient -Iproto
INC_p2pctl       := -Ip2pctl -Icore -Iproto -Ilibp2pclient
# Tests and benchmarks see every userspace layer.
INC_ALL          := -Idaemon -Icore -Iproto -Ilibp2pclient -Ip2pctl -Ikmod/include/uapi
# Kept for fragments that compile test programs: everything visible.
# Project include paths come first: proto/json.h must win over json-c's own
# json.h (pkg-config puts /usr/include/json-c on the path).
CFLAGS_ALL := $(INC_ALL) $(CFLAGS_BASE)

CORE_SRCS   := core/topo.c core/topo-func.c core/topo-names.c core/sysattr.c core/pcicfg.c core/gpu.c core/verdict.c core/rules.c core/kernel.c \
               core/report.c core/provider.c core/list.c core/idmap.c core/blockdev.c
PROTO_SRCS  := proto/conn.c
DAEMON_SRCS := daemon/server.c daemon/client.c daemon/ops.c daemon/ops-alloc.c daemon/buffer.c daemon/hotplug.c \
               daemon/nss.c daemon/sockfile.c daemon/closer.c daemon/worker.c daemon/config.c \
               daemon/policy.c daemon/alloc.c daemon/alloc-kmod.c daemon/log.c
P2PD_MAIN   := daemon/main.c
LIB_SRCS    := libp2pclient/p2pclient.c libp2pclient/p2pclient-io.c \
	       libp2pclient/p2pclient-strerror.c
CTL_SRCS    := p2pctl/p2pctl.c p2pctl/online.c p2pctl/snapshot.c p2pctl/names.c p2pctl/render-dot.c \
               p2pctl/cdi.c p2pctl/metrics.c p2pctl/io.c

# the strict JSON front end; the config's rules part
PROTO_SRCS  += proto/json.c proto/json-schema.c
DAEMON_SRCS += daemon/config-rules.c
CTL_SRCS    += p2pctl/escape.c

CORE_OBJS   := $(CORE_SRCS:%.c=$(BUILD)/obj/%.o)
PROTO_OBJS  := $(PROTO_SRCS:%.c=$(BUILD)/obj/%.o)
DAEMON_OBJS := $(DAEMON_SRCS:%.c=$(BUILD)/obj/%.o)
LIB_OBJS    := $(LIB_SRCS:%.c=$(BUILD)/obj/lib/%.o) $(PROTO_SRCS:%.c=$(BUILD)/obj/lib/%.o)
CTL_OBJS    := $(CTL_SRCS:%.c=$(BUILD)/obj/%.o)

UNIT_SRCS := $(wildcard tests/unit/test-*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_HELPER_OBJS := $(BUILD)/obj/tests/unit/helper-fixture.o

ALL_BINS := $(BUILD)/libp2pcore.a $(BUILD)/libp2pproto.a $(BUILD)/libp2pclient.so \
            $(BUILD)/p2pctl $(BUILD)/p2pd
CHECK_TARGETS := check-unit check-layers

.PHONY: all check check-unit asan clean format-check check-layers
all: $(ALL_BINS)

layer = $(firstword $(subst /, ,$(1)))

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(or $(INC_$(call layer,$<)),$(INC_ALL)) $(CFLAGS_BASE) -MMD -MP -c $< -o $@

# libp2pclient's objects (and the proto it carries): hidden unless exported.
$(BUILD)/obj/lib/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(INC_libp2pclient) $(CFLAGS_BASE) -fvisibility=hidden -DP2P_BUILDING_LIB -MMD -MP -c $< -o $@

$(BUILD)/libp2pcore.a: $(CORE_OBJS)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/libp2pproto.a: $(PROTO_OBJS)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/libp2pd.a: $(DAEMON_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libp2pclient.so: $(LIB_OBJS) libp2pclient/libp2pclient.sym
	$(CC) -shared -o $@ $(LIB_OBJS) $(LDFLAGS_ALL) -Wl,-soname,libp2pclient.so.0 \
		-Wl,--version-script=libp2pclient/libp2pclient.sym $(shell pkg-config --libs json-c)
	ln -sf libp2pclient.so $(BUILD)/libp2pclient.so.0

# The build tree's p2pctl finds build/libp2pclient.so.0 beside it; packages set CTL_RPATH=.
CTL_RPATH ?= -Wl,-rpath,'$$ORIGIN'
$(BUILD)/p2pctl: $(CTL_OBJS) $(BUILD)/libp2pcore.a $(BUILD)/libp2pproto.a $(BUILD)/libp2pclient.so
	$(CC) -o $@ $(CTL_OBJS) $(BUILD)/libp2pcore.a $(BUILD)/libp2pproto.a \
		-L$(BUILD) -lp2pclient $(CTL_RPATH) \
		$(LDFLAGS_ALL) $(shell pkg-config --libs json-c libdrm zlib libpci)

$(BUILD)/p2pd: $(BUILD)/obj/$(P2PD_MAIN:.c=.o) $(BUILD)/libp2pd.a $(BUILD)/libp2pcore.a $(BUILD)/libp2pproto.a
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(PKG_LIBS)

TEST_LIBS = $(BUILD)/obj/p2pctl/snapshot.o $(BUILD)/obj/p2pctl/names.o $(BUILD)/libp2pd.a $(BUILD)/libp2pcore.a $(BUILD)/libp2pproto.a

$(BUILD)/tests/%: tests/unit/%.c $(TEST_LIBS) $(UNIT_HELPER_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ $< $(UNIT_HELPER_OBJS) $(TEST_LIBS) \
		$(LDFLAGS_ALL) $(PKG_LIBS) $(shell pkg-config --libs libpci) $(CMOCKA_LIBS)

# Unit tests: every binary runs; the runner prints one closing line for all of them.
check-unit: all $(UNIT_BINS)
	@tests/run-unit.sh $(UNIT_BINS)

check: all
	@MAKE="$(MAKE)" tests/run-all.sh $(CHECK_TARGETS)

asan:
	$(MAKE) BUILD=build-asan SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		OPT="-O1 -g" check

check-layers:
	@tests/layout/check-layers.sh

format-check:
	clang-format --dry-run --Werror $(wildcard core/*.[ch] proto/*.[ch] daemon/*.[ch] \
		libp2pclient/*.[ch] p2pctl/*.[ch] tests/unit/*.[ch] bench/*.c bench/*/*.c)

clean:
	rm -rf build build-asan build-cov

include mk/fixtures.mk mk/proto.mk mk/fuzz.mk mk/daemon.mk mk/libp2pclient.mk mk/p2pctl.mk mk/install.mk \
	mk/bench.mk mk/kmod.mk mk/vm.mk mk/coverage.mk mk/deb.mk
-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
