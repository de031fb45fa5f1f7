# Shared by the command-line tests (sourced): expect CODE SUBSTRING -- command...
# checks the exit code and a substring of stdout+stderr, counting failures in $fails.
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
