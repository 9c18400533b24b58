# fixtures.mk - synthetic sysfs fixtures and their checker.
#   make check-fixtures   p2pctl --fsroot on every tests/fixtures/sysfs/<case> vs its tables,
#                         and on snapshots captured on real servers (tests/fixtures/captured)
#   make fixtures-regen   rewrite the committed preset cases from tests/fixtures/gen-fabric.py

CHECK_TARGETS += check-fixtures

FIXTURE_PRESETS = $(shell python3 tests/fixtures/gen-fabric.py --list)

.PHONY: check-fixtures fixtures-regen

# p2pctl is built first; if that fails the checker still runs and counts every row failed.
check-fixtures:
	@$(MAKE) --no-print-directory $(BUILD)/p2pctl >/dev/null || \
		echo "check-fixtures: building $(BUILD)/p2pctl failed" >&2
	@P2PCTL=$(BUILD)/p2pctl tests/fixtures/check-fixtures.sh
	@P2PCTL=$(BUILD)/p2pctl tests/fixtures/check-captured.sh

fixtures-regen:
	@for p in $(FIXTURE_PRESETS); do \
		tests/fixtures/gen-fabric.py tests/fixtures/sysfs/$$p --preset $$p --force || exit 1; \
	done

