# mk/coverage.mk - line and branch coverage of the whole `make check` (not part of it).
#   make coverage   rebuild everything with --coverage in $(COV_BUILD) (build-cov/), run
#                   `make check` there, summarise with lcov (Debian's lcov package):
#                   lines and branches per directory and per file, HTML under
#                   $(COV_HTML) (build/coverage/index.html), tracefile $(COV_HTML)/coverage.info,
#                   and a printed table (scripts/coverage-table.py).  The goal is >= 90% lines
#                   and >= 80% branches on $(COV_GOAL_DIRS); the table marks each "met"/"BELOW".
# The check's own result is printed, and the summary is made either way; `make coverage`
# fails when the check failed (the figures of a red run mean little).
# Coverage is a map for finding untested behaviour, not a score: see the issue's note.

COV_BUILD     ?= build-cov
COV_HTML      ?= build/coverage
COV_GOAL_DIRS := core,proto,daemon,libp2pclient
# Code that runs only in the VM tier (make vmcheck boots the real kmod; make
# check has no /dev/p2pbroker): the table marks it and shows its directory
# without it too, beside the directory's own figures.
COV_VM_ONLY   := daemon/alloc-kmod.c
COV_LCOV_RC   := --rc lcov_branch_coverage=1
# -O0 (exact line attribution) makes GCC's -Wformat-truncation guess differently
# from -O2: warned about, not fatal, in this build only.
COV_EXTRA_CFLAGS := -Wno-error=format-truncation

.PHONY: coverage coverage-report
coverage:
	@command -v lcov >/dev/null && command -v genhtml >/dev/null || { \
		echo "coverage: lcov/genhtml not installed (scripts/install-deps.sh installs lcov)" >&2; \
		exit 1; }
	@rm -rf $(COV_BUILD) $(COV_HTML)
	@mkdir -p $(COV_HTML)
	@# umask 0: tests run clients as other uids (65534, 65533); their .gcda
	@# updates need writable directories and files.
	@umask 000; rc=0; \
	$(MAKE) --no-print-directory BUILD=$(COV_BUILD) OPT="-O0 -g" SAN="--coverage" \
		EXTRA_CFLAGS="$(COV_EXTRA_CFLAGS)" check \
		>$(COV_HTML)/check.log 2>&1 || rc=$$?; \
	tail -n 1 $(COV_HTML)/check.log | sed 's/^/coverage: make check: /'; \
	grep -E '^(FAIL|not ok)' $(COV_HTML)/check.log | head -20; \
	$(MAKE) --no-print-directory coverage-report || exit 1; \
	if [ $$rc -ne 0 ]; then echo "coverage: make check failed (exit $$rc), log $(COV_HTML)/check.log" >&2; fi; \
	exit $$rc

# Summary of whatever .gcda files $(COV_BUILD) holds now.
coverage-report:
	@lcov --quiet $(COV_LCOV_RC) --capture --directory $(COV_BUILD) --base-directory $(CURDIR) \
		--output-file $(COV_HTML)/all.info 2>$(COV_HTML)/lcov.log || { cat $(COV_HTML)/lcov.log; exit 1; }
	@lcov --quiet $(COV_LCOV_RC) --remove $(COV_HTML)/all.info '/usr/*' '*/build-cov/*' \
		--output-file $(COV_HTML)/coverage.info 2>>$(COV_HTML)/lcov.log
	@genhtml --quiet $(COV_LCOV_RC) --branch-coverage --prefix $(CURDIR) --title "p2pbroker make check" \
		--output-directory $(COV_HTML) $(COV_HTML)/coverage.info 2>>$(COV_HTML)/lcov.log
	@python3 scripts/coverage-table.py $(COV_HTML)/coverage.info $(COV_GOAL_DIRS) $(COV_VM_ONLY)
	@echo "coverage: HTML in $(COV_HTML)/index.html"
