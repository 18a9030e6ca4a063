#!/usr/bin/env bash
# Run the README's first command exactly as written, as a new user would: in a fresh copy of the
# tracked files, with no virtualenv active, so it creates its own venv and installs the newest
# dependencies pyproject.toml allows. CI (.ci/run) runs this after the test command.
set -euo pipefail
cd "$(dirname "$0")/.."

# the first ```sh block after "## Two commands"
cmd="$(awk '/^## Two commands/{s=1} s&&/^```sh$/{b=1;next} b&&/^```$/{exit} b{print}' README.md)"
[ -n "$cmd" ] || { echo "scripts/fresh-check.sh: no sh block under '## Two commands' in README.md" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$work"

# no venv of ours leaks in: drop VIRTUAL_ENV and every venv bin directory from PATH
clean_path="$(printf '%s' "$PATH" | tr ':' '\n' | grep -v -e '/\.venv/bin$' -e "^${VIRTUAL_ENV:-/nonexistent}/bin$" | paste -sd:)"
echo "scripts/fresh-check.sh: running the README's first command in $work:" >&2
printf '  %s\n' "$cmd" >&2
start=$(date +%s)
(cd "$work" && env -u VIRTUAL_ENV PATH="$clean_path" PIP_DISABLE_PIP_VERSION_CHECK=1 bash -euo pipefail -c "$cmd")
echo "scripts/fresh-check.sh: ok in $(( $(date +%s) - start )) s" >&2
