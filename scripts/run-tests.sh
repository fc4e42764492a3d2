#!/bin/sh
# Runs every test against the build in $WARD_BUILD (default: build).
# C unit tests through Meson, then the end-to-end suite through pytest.
# WARD_SANITIZED=1 marks a sanitizer build: tests that need an unsanitized
# engine process are skipped there (see tests/e2e/conftest.py).
set -eu
cd "$(dirname "$0")/.."
: "${WARD_BUILD:=build}"
export WARD_BUILD
if [ "${WARD_SANITIZED:-0}" = 1 ]; then
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
fi
echo "== unit tests ($WARD_BUILD)"
# Sanitizers slow some tests (the mutation tests) by 5-10x.
mult=3
[ "${WARD_SANITIZED:-0}" = 1 ] && mult=10
meson test -C "$WARD_BUILD" --print-errorlogs -q --timeout-multiplier "$mult"
echo "== end-to-end tests ($WARD_BUILD)"
# Debian's interpreter: the one python3-pytest, Flask and numpy belong to.
exec /usr/bin/python3 -m pytest -q -p no:cacheprovider ${PYTEST_ARGS:-} tests/e2e
