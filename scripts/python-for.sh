#!/usr/bin/env bash
# Prints the interpreter of Python $1 (3.12, 3.13): pyenv's build of it (these
# machines install 3.12 and 3.13 with pyenv, whose shims on PATH fail unless
# the version is selected), else a python$1 on PATH that runs.
set -euo pipefail
v=${1:?usage: scripts/python-for.sh 3.13}
root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
for dir in $(ls -d "$root"/versions/"$v".* 2>/dev/null | sort -V -r); do
  if [ -x "$dir/bin/python$v" ] && "$dir/bin/python$v" -c "" 2>/dev/null; then
    echo "$dir/bin/python$v"
    exit 0
  fi
done
if command -v "python$v" >/dev/null 2>&1 && "python$v" -c "" 2>/dev/null; then
  command -v "python$v"
  exit 0
fi
echo "Python $v is not installed (looked under $root/versions and on PATH): pyenv install $v" >&2
exit 1
