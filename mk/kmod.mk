# mk/kmod.mk - the kernel module: build, checkpatch, host-side checks.
#   make kmod            build kmod/*.ko against KDIR (default: the running
#                        kernel's build tree, else the cached VM guest tree)
#   make kmod-checkpatch scripts/checkpatch.pl --strict on kmod/

VM_SHARED   ?= $(CURDIR)/../shared
VM_FRAGMENT ?= $(VM_SHARED)/vm/kernel-p2pdma.config
VM_KSRC     ?= /usr/src/linux-source-6.1.tar.xz
KDIR        ?= $(firstword $(wildcard /lib/modules/$(shell uname -r)/build) \
                 $(shell tests/vm/build-kernel.sh $(VM_FRAGMENT) 2>/dev/null | tail -n 1)/linux)

.PHONY: kmod kmod-clean kmod-checkpatch

kmod:
	$(MAKE) -C kmod KDIR=$(KDIR)

kmod-clean:
	$(MAKE) -C kmod KDIR=$(KDIR) clean

# checkpatch ships with the kernel source; only its script and data are extracted.
$(BUILD)/checkpatch/scripts/checkpatch.pl: $(VM_KSRC)
	@mkdir -p $(BUILD)/checkpatch
	tar -C $(BUILD)/checkpatch --strip-components=1 -xf $(VM_KSRC) \
		linux-source-6.1/scripts/checkpatch.pl linux-source-6.1/scripts/spelling.txt \
		linux-source-6.1/scripts/const_structs.checkpatch
	touch $@

kmod-checkpatch: $(BUILD)/checkpatch/scripts/checkpatch.pl
	$(MAKE) -C kmod CHECKPATCH=$(abspath $<) checkpatch
	@echo "kmod-checkpatch: clean"


# Host-side module checks (ABI, checkpatch, stock-headers build) in make check.
CHECK_TARGETS += check-kmod
.PHONY: check-kmod
check-kmod:
	@BUILD=$(BUILD) MAKE="$(MAKE)" tests/vm/check-kmod.sh
