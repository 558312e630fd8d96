# shellcheck shell=bash
# Shared virtualenv bootstrap for scripts/test and scripts/run (sourced, not executed).
#
# ensure_venv: create .venv in the repository root with `python3 -m venv` if it is missing or
# broken, and install requirements.txt into it only when requirements.txt changed since the
# last successful install (its sha256 is kept in .venv/.requirements.sha256).
#
# Expects the current directory to be the repository root. Honours PYTHON (default python3).

_venv_sha256() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    else
        "${PYTHON:-python3}" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$1"
    fi
}

ensure_venv() {
    local venv=.venv
    local stamp="$venv/.requirements.sha256"
    local python="${PYTHON:-python3}"

    if [[ ! -f requirements.txt ]]; then
        echo "ensure_venv: requirements.txt not found in $(pwd)" >&2
        return 1
    fi

    # A directory left behind by a failed `python3 -m venv` (no ensurepip) has no working pip.
    if [[ -d "$venv" ]] && ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
        echo "ensure_venv: $venv is incomplete, recreating it" >&2
        rm -rf "$venv"
    fi

    if [[ ! -d "$venv" ]]; then
        if ! command -v "$python" >/dev/null 2>&1; then
            echo "ensure_venv: $python not found; install Python 3.11+ first" >&2
            return 1
        fi
        echo "Creating virtualenv $venv with $("$python" --version 2>&1)" >&2
        if ! "$python" -m venv "$venv"; then
            rm -rf "$venv"
            echo "ensure_venv: '$python -m venv' failed; on Debian/Ubuntu: apt-get install python3-venv" >&2
            return 1
        fi
    fi

    local want have=""
    want="$(_venv_sha256 requirements.txt)"
    [[ -f "$stamp" ]] && have="$(cat "$stamp")"
    if [[ "$want" != "$have" ]]; then
        echo "Installing requirements.txt into $venv" >&2
        rm -f "$stamp"
        "$venv/bin/python" -m pip install --disable-pip-version-check --no-input \
            --progress-bar off -q -r requirements.txt || return 1
        echo "$want" >"$stamp"
    fi
}
