# mk/p2pctl.mk - the p2pctl CLI tier (offline mode: output shapes, errors).
CHECK_TARGETS += check-p2pctl
.PHONY: check-p2pctl
check-p2pctl: $(BUILD)/p2pctl
	@P2PCTL=$(BUILD)/p2pctl tests/cli/check-p2pctl.sh
