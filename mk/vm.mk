# mk/vm.mk - the VM test tier (QEMU, TCG): the real module and p2pd in guests.
#   make vmcheck         boot the guest setups and run the VM scenarios;
#                        last line "vmcheck: N passed, N failed"
# Not in CHECK_TARGETS (needs the guest kernel build): .ci/run runs it.
.PHONY: vmcheck
vmcheck:
	@P2P_SHARED=$(VM_SHARED) MAKE="$(MAKE)" tests/vm/vmcheck.sh
