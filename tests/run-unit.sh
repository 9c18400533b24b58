#!/usr/bin/env bash
# Runs cmocka test binaries; prints each binary's verdict and one closing line
# "N passed, N failed" (tests, not binaries).  Exit status: non-zero on any failure.
set -u
passed=0 failed=0
for bin in "$@"; do
	out=$(CMOCKA_MESSAGE_OUTPUT=stdout "$bin" 2>&1)
	rc=$?
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -n1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -n1)
	p=${p:-0} f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1 # crashed or died before cmocka could count
	fi
	if [ "$f" -ne 0 ]; then
		printf '%s\n' "$out"
		echo "FAIL $(basename "$bin"): $p passed, $f failed (exit $rc)"
	else
		echo "ok   $(basename "$bin"): $p passed"
	fi
	passed=$((passed + p)) failed=$((failed + f))
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
