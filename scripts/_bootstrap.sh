# Sourced by scripts/test and scripts/demo: install uv if needed, then the locked environment.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if command -v uv >/dev/null 2>&1; then
  UV=(uv)
else
  python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
  UV=(python3 -m uv)
fi
"${UV[@]}" sync --frozen --quiet
