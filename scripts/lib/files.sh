# shellcheck shell=bash
# scripts/lib/files.sh — sourced by the gates that read the repository's own files (scripts/shellcheck.sh,
# scripts/check-waits.sh), so both read the same set.
#
#   repo_files         every file under the current directory, sorted: the tracked ones when it is the top of a git
#                      work tree, else every file but .git/ and .build/ (the broken copy `make gates-red` hands in)
#   is_shell_script F  F's first line is a sh or bash shebang

repo_files() {
  if git rev-parse --show-toplevel >/dev/null 2>&1 && [ "$(git rev-parse --show-toplevel)" = "$(pwd -P)" ]; then
    git ls-files
  else
    find . -type f ! -path './.git/*' ! -path './.build/*' -printf '%P\n' | LC_ALL=C sort
  fi
}

is_shell_script() {
  local first
  IFS= read -r first < "$1" || true   # one line read from the file itself: no pipe to break
  [[ "$first" =~ ^#!.*[/[:space:]](ba)?sh([[:space:]]|$) ]]
}
