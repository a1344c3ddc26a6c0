#!/usr/bin/env bash
# Regenerates crates/cli/hot-symbols.txt: the functions `driftless build
# chart` runs, which build.rs asks the linker to place together (see its
# doc). Run it after a Rust or dependency upgrade, or when the render's
# code changed a lot; a stale list costs speed and memory, never
# correctness (symbols that are gone are skipped).
#
#   crates/cli/hot-symbols.sh [CORPUS_DIR]
#
# Needs valgrind, jq and nm, and the Helm conformance corpus
# (../shared/helm-conformance by default). Every case of the corpus is run
# once under callgrind; the list is every function of our binary that any
# case ran, the ones most cases run first.
set -euo pipefail
cd "$(dirname "$0")/../.."
corpus=${1:-../shared/helm-conformance}
for tool in valgrind jq nm; do
  command -v "$tool" >/dev/null || { echo "hot-symbols.sh: $tool is needed" >&2; exit 1; }
done
[[ -f $corpus/index.tsv ]] || { echo "hot-symbols.sh: no corpus at $corpus" >&2; exit 1; }

cargo build --release -p driftless --bin driftless
binary=$PWD/target/release/driftless
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for case_dir in "$corpus"/cases/*/; do
  name=$(basename "$case_dir")
  spec=$case_dir/case.json
  chart=$(jq -r .chart "$spec")
  args=(build chart "$(jq -r .release "$spec")" "$corpus/charts/$chart"
        --namespace "$(jq -r .namespace "$spec")")
  while read -r values; do args+=(-f "$case_dir$values"); done < <(jq -r '.values[]' "$spec")
  while read -r arg; do args+=("$arg"); done < <(jq -r '.args[]' "$spec")
  valgrind --tool=callgrind --demangle=no --callgrind-out-file="$work/out" \
    "$binary" "${args[@]}" >/dev/null 2>"$work/log" || true
  # Each function is named once per profile, as `fn=(id) name` or
  # `cfn=(id) name`; a case counts a function once.
  sed -n 's/^c\{0,1\}fn=([0-9]*) //p' "$work/out" | sort -u >"$work/$name.syms"
  echo "$name: $(wc -l <"$work/$name.syms") functions" >&2
done

nm --defined-only "$binary" | awk '$2 ~ /^[tT]$/ {print $3}' | sort -u >"$work/ours"
cat "$work"/*.syms | sort | uniq -c | sort -k1,1nr -k2 | awk '{print $2}' \
  | grep -Fxf "$work/ours" >crates/cli/hot-symbols.txt
echo "crates/cli/hot-symbols.txt: $(wc -l <crates/cli/hot-symbols.txt) functions" >&2
