# Shared by the command-line tests (sourced): sets tmp (a folder removed on exit) and
# fails=0, and defines expect CODE SUBSTRING -- command..., which checks the exit code and a
# substring of stdout+stderr, and fail MESSAGE, both counting failures in $fails.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

fail() { echo "FAIL: $*"; fails=$((fails+1)); }

expect() {
  local code=$1 want=$2; shift 3
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" != "$code" ]; then
    echo "FAIL: '$*' exited $rc, expected $code"; echo "$out" | head -8; fails=$((fails+1)); return
  fi
  if [ -n "$want" ] && ! grep -qF -- "$want" <<<"$out"; then
    echo "FAIL: '$*' output lacks: $want"; echo "$out" | head -8; fails=$((fails+1)); return
  fi
  echo "ok: $*"
}
