# mk/kmod.mk - the kernel module: build, checkpatch, host-side checks.
#   make kmod            build kmod/*.ko against KDIR (default: the running
#                        kernel's build tree, else the cached VM guest tree)
#   make kmod-checkpatch scripts/checkpatch.pl --strict on kmod/, with the
#                        checkpatch of each supported series (6.1, 6.12)

VM_SHARED   ?= $(CURDIR)/../shared
VM_FRAGMENT ?= $(VM_SHARED)/vm/kernel-p2pdma.config
KDIR        ?= $(firstword $(wildcard /lib/modules/$(shell uname -r)/build) \
                 $(shell tests/vm/build-kernel.sh $(VM_FRAGMENT) 2>/dev/null | tail -n 1)/linux)

.PHONY: kmod kmod-clean kmod-checkpatch

kmod:
	$(MAKE) -C kmod KDIR=$(KDIR) P2PB_WERROR=-Werror

kmod-clean:
	$(MAKE) -C kmod KDIR=$(KDIR) clean

# checkpatch ships with the kernel source; only its script and data are
# extracted, from every series the module supports (their rules differ).
KMOD_SERIES ?= 6.1 6.12
KMOD_CHECKPATCHES := $(KMOD_SERIES:%=$(BUILD)/checkpatch-%/scripts/checkpatch.pl)

$(BUILD)/checkpatch-%/scripts/checkpatch.pl: /usr/src/linux-source-%.tar.xz
	@mkdir -p $(BUILD)/checkpatch-$*
	tar -C $(BUILD)/checkpatch-$* --strip-components=1 -xf $< \
		linux-source-$*/scripts/checkpatch.pl linux-source-$*/scripts/spelling.txt \
		linux-source-$*/scripts/const_structs.checkpatch
	touch $@

kmod-checkpatch: $(KMOD_CHECKPATCHES)
	@set -e; for cp in $(abspath $^); do \
		echo "checkpatch $$cp"; $(MAKE) -s -C kmod CHECKPATCH=$$cp checkpatch; \
		$(MAKE) -s -C tests/vm/importer CHECKPATCH=$$cp checkpatch; done
	@echo "kmod-checkpatch: clean ($(KMOD_SERIES))"


# Host-side module checks (ABI, checkpatch, stock-headers build) in make check.
CHECK_TARGETS += check-kmod
.PHONY: check-kmod
check-kmod:
	@BUILD=$(BUILD) MAKE="$(MAKE)" tests/vm/check-kmod.sh

# One version (VERSION = kmod/dkms.conf = the READMEs), and the README's DKMS
# commands run as written (dkms add/build in a scratch tree, every header set).
CHECK_TARGETS += check-dkms
.PHONY: check-dkms
check-dkms:
	@tests/vm/check-dkms.sh
