# shellcheck shell=bash
# scripts/lib/files.sh — sourced by the gates that read the repository's own files (scripts/shellcheck.sh,
# scripts/check-waits.sh, scripts/check-apt.sh), so all read the same set.
#
#   repo_files         every file under the current directory, sorted: the tracked ones when it is the top of a git
#                      work tree, else every file but .git/ and .build/ (the broken copy `make gates-red` hands in)
#   is_shell_script F  F's first line is a sh or bash shebang
#   code_files GLOB... the repo_files whose path matches a GLOB, and every other one that is a shell script by its
#                      shebang (documents and data files are not opened)

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

code_files() {
  local f g
  while IFS= read -r f; do
    [ -f "$f" ] || continue
    for g in "$@"; do
      # shellcheck disable=SC2254 # GLOB is a pattern
      case "$f" in $g) printf '%s\n' "$f"; continue 2 ;; esac
    done
    case "$f" in *.go|*.md|*.yaml|*.yml|*.json|*.tpl|*.txt|*.sum|*.mod|*.gotmpl) continue ;; esac
    if is_shell_script "$f"; then printf '%s\n' "$f"; fi
  done < <(repo_files)
}
