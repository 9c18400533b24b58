#!/usr/bin/env bash
# Runs each make target named on the command line (check-unit, check-integration, ...).
# Every target prints a line "[word:] N passed, N failed"; a target that fails
# without such a line counts as one failure.  Prints the total as the closing line.
set -u
MAKE=${MAKE:-make}
passed=0 failed=0
# p2pd refuses a config file others may write (p2pd.json(5)); git keeps no
# group bits, so a checkout made under umask 002 would fail the config tests.
chmod -R go-w config tests/fixtures/config 2>/dev/null || true
for t in "$@"; do
	log=$(mktemp)
	$MAKE --no-print-directory "$t" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^([a-z0-9-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n1)
	rm -f "$log"
	if [ -n "$line" ]; then
		p=$(sed -E 's/^([a-z0-9-]+: )?([0-9]+) passed.*/\2/' <<<"$line")
		f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
	else
		p=0 f=0
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "run-all: target $t failed (exit $rc) without a summary line" >&2
		f=1
	fi
	passed=$((passed + p)) failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
