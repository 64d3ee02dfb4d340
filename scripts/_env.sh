# Shared by scripts/run and scripts/test: make .venv hold exactly what pyproject.toml pins.
# Re-installs only when pyproject.toml changes (its hash is kept in .venv/.calpico-installed-*).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "Calpico needs Python 3.11 or newer (found: $("$python" --version 2>&1))" >&2
    exit 1
}
extras="${CALPICO_EXTRAS:-}"
stamp=".venv/.calpico-installed-${extras:-base}"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "Installing Calpico into .venv ..." >&2
    spec="."
    [ -n "$extras" ] && spec=".[$extras]"
    .venv/bin/python -m pip install --quiet -e "$spec" >&2
    echo "$want" > "$stamp"
fi
export PATH="$root/.venv/bin:$PATH"
