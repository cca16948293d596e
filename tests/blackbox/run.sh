#!/bin/bash
# Black-box tests of the lavabuild binary ($LAVABUILD_BIN, default build/lavabuild).
# Usage: tests/blackbox/run.sh [pytest args...]
# Prints the pytest summary line last; exits non-zero when pytest does.
here=$(cd "$(dirname "$0")" && pwd)
py=${LAVABUILD_PYTEST_PYTHON:-/usr/bin/python3}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Test files or node ids given: only those; otherwise the whole directory.
target=("$here")
for a in "$@"; do
  case "$a" in -*) ;; *) [ -e "${a%%::*}" ] && target=() ;; esac
done
"$py" -m pytest -q -p no:cacheprovider "${target[@]}" "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
summary=$(grep -E '([0-9]+ (passed|failed|skipped|errors?|deselected)|no tests ran)' "$log" | tail -n 1)
echo "SUMMARY: ${summary:-no pytest summary line} (exit $rc)"
exit "$rc"
