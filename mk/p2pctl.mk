# mk/p2pctl.mk - the p2pctl CLI tier (offline mode: output shapes, errors).
CHECK_TARGETS += check-p2pctl
.PHONY: check-p2pctl
check-p2pctl: $(BUILD)/p2pctl $(BUILD)/p2pd
	@P2PCTL=$(BUILD)/p2pctl tests/cli/check-p2pctl.sh

# The README's 20-line client against the installed library and a live p2pd.
CHECK_TARGETS += check-example
.PHONY: check-example
check-example: all
	@BUILD=$(BUILD) SAN="$(SAN)" MAKE="$(MAKE)" tests/cli/check-example.sh

# p2pctl cdi: the spec against the CDI schema (tests/cdi/), a live client through it.
CHECK_TARGETS += check-cdi
.PHONY: check-cdi
check-cdi: $(BUILD)/p2pctl $(BUILD)/p2pd
	@BUILD=$(BUILD) tests/cli/check-cdi.sh

# p2pctl topo --format svg|dot: every snapshot, a 100-function tree, hostile names, live.
CHECK_TARGETS += check-topo-graph
.PHONY: check-topo-graph
check-topo-graph: $(BUILD)/p2pctl $(BUILD)/p2pd
	@BUILD=$(BUILD) tests/cli/check-topo-graph.sh

# p2pctl metrics: Prometheus text from a live p2pd, parsed by prometheus_client.
CHECK_TARGETS += check-metrics
.PHONY: check-metrics
check-metrics: $(BUILD)/p2pctl $(BUILD)/p2pd
	@BUILD=$(BUILD) tests/cli/check-metrics.sh
