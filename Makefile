# p2pbroker top-level build.  Userspace only; the kernel module has its own
# Kbuild under kmod/ (see mk/*.mk fragments for kmod, vmcheck, fuzz, install ...).
#
# Conventions (so a new module needs no edit here):
#   daemon/*.c except main.c      -> build/libp2pcore.a   (topology, verdicts, daemon logic)
#   client-lib/conn.c             -> linked into libp2pclient.so and libp2pcore.a
#   client-lib/p2pclient.c        -> build/libp2pclient.so (public API, p2pclient.h)
#   client-lib/p2pctl*.c          -> build/p2pctl
#   daemon/main.c                 -> build/p2pd (when present)
#   tests/unit/test-NAME.c        -> build/tests/test-NAME   (cmocka, linked with libp2pcore.a)
#   mk/*.mk                       -> included; may add to CHECK_TARGETS and define targets

CC      ?= cc
comma   := ,
BUILD   ?= build
PKGS    := json-c libevent libsystemd libdrm
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))
CMOCKA_LIBS := $(shell pkg-config --libs cmocka)

WARN    := -std=c11 -Wall -Wextra -Werror -Wmissing-prototypes -Wstrict-prototypes -Wvla \
           -Wimplicit-fallthrough -Wshadow -Wformat=2
OPT     ?= -O2 -g
SAN     ?=
CFLAGS_ALL := $(WARN) $(OPT) $(SAN) -D_GNU_SOURCE -fPIC -Idaemon -Iclient-lib -Ikmod/include/uapi \
              $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS_ALL := $(SAN) $(EXTRA_LDFLAGS)

CORE_SRCS := $(filter-out daemon/main.c,$(wildcard daemon/*.c)) client-lib/conn.c
CORE_SRCS := $(wildcard $(CORE_SRCS))
CORE_OBJS := $(CORE_SRCS:%.c=$(BUILD)/obj/%.o)
LIB_SRCS  := $(wildcard client-lib/p2pclient.c client-lib/conn.c)
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/obj/lib/%.o)
CTL_SRCS  := $(wildcard client-lib/p2pctl*.c)
CTL_OBJS  := $(CTL_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_SRCS := $(wildcard tests/unit/test-*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_HELPER_SRCS := $(wildcard tests/unit/helper-*.c)
UNIT_HELPER_OBJS := $(UNIT_HELPER_SRCS:%.c=$(BUILD)/obj/%.o)

P2PD_BIN  := $(if $(wildcard daemon/main.c),$(BUILD)/p2pd)
LIB_SO    := $(if $(wildcard client-lib/p2pclient.c),$(BUILD)/libp2pclient.so)

ALL_BINS := $(BUILD)/libp2pcore.a $(LIB_SO) $(BUILD)/p2pctl $(P2PD_BIN)
CHECK_TARGETS := check-unit

.PHONY: all check check-unit asan clean format-check
all: $(ALL_BINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/obj/lib/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -fvisibility=hidden -DP2P_BUILDING_LIB -MMD -MP -c $< -o $@

$(BUILD)/libp2pcore.a: $(CORE_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libp2pclient.so: $(LIB_OBJS) $(wildcard client-lib/libp2pclient.sym)
	$(CC) -shared -o $@ $(LIB_OBJS) $(LDFLAGS_ALL) -Wl,-soname,libp2pclient.so.0 \
		$(if $(wildcard client-lib/libp2pclient.sym),-Wl$(comma)--version-script=client-lib/libp2pclient.sym) \
		$(shell pkg-config --libs json-c)
	ln -sf libp2pclient.so $(BUILD)/libp2pclient.so.0

$(BUILD)/p2pctl: $(CTL_OBJS) $(BUILD)/libp2pcore.a $(LIB_SO)
	$(CC) -o $@ $(CTL_OBJS) $(BUILD)/libp2pcore.a $(if $(LIB_SO),-L$(BUILD) -lp2pclient -Wl$(comma)-rpath$(comma)'$$ORIGIN') \
		$(LDFLAGS_ALL) $(PKG_LIBS)

$(BUILD)/p2pd: $(BUILD)/obj/daemon/main.o $(BUILD)/libp2pcore.a
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(PKG_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libp2pcore.a $(UNIT_HELPER_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ $< $(UNIT_HELPER_OBJS) $(BUILD)/libp2pcore.a \
		$(LDFLAGS_ALL) $(PKG_LIBS) $(CMOCKA_LIBS)

# Unit tests: every binary runs; the runner prints one closing line for all of them.
check-unit: all $(UNIT_BINS)
	@tests/run-unit.sh $(UNIT_BINS)

check: all
	@MAKE="$(MAKE)" tests/run-all.sh $(CHECK_TARGETS)

asan:
	$(MAKE) BUILD=build-asan SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		OPT="-O1 -g" check

format-check:
	clang-format --dry-run --Werror $(wildcard daemon/*.[ch] client-lib/*.[ch] tests/unit/*.[ch])

clean:
	rm -rf build build-asan

-include $(wildcard mk/*.mk)
-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
