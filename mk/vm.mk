# mk/vm.mk - the VM test tier (QEMU, TCG): the real module and p2pd in guests.
#   make vmcheck         boot the guest setups and run the VM scenarios;
#                        last line "vmcheck: N passed, N failed"
# Not in CHECK_TARGETS (needs the guest kernel build): .ci/run runs it.
.PHONY: vmcheck vmcheck-fuzz
vmcheck:
	@P2P_SHARED=$(VM_SHARED) MAKE="$(MAKE)" tests/vm/vmcheck.sh

# The kernel-module fuzzer (tests/vm/guest/kfuzz.c) on the lockdep+KASAN+
# DMA-API-debug 6.12 guest for P2P_VM_FUZZ_SECONDS (60); its line
# "kmod-fuzz: N ops, M kernel splats" fails unless M is 0.
# P2P_VM_DEBUG= (empty) runs it on the plain guest kernel instead.
P2P_VM_FUZZ_DEBUG ?= 1
vmcheck-fuzz:
	@P2P_SHARED=$(VM_SHARED) MAKE="$(MAKE)" P2P_VM_DEBUG=$(P2P_VM_FUZZ_DEBUG) P2P_VM_KERNELS=6.12 \
		P2P_VM_SETUPS=fuzz P2P_VM_TIMEOUT=$${P2P_VM_TIMEOUT:-900} tests/vm/vmcheck.sh
