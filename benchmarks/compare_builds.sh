#!/usr/bin/env bash
# Fused-network throughput of two vitnas builds, interleaved in the same run: the check that a
# refactor kept the inference speed. Each round runs `bench` once per build over m0..m5 (1 thread,
# batch 16, the official CPU protocol), alternating which build goes first; the table gives each
# build's median img/s over the rounds and the ratio new / old.
# Usage: benchmarks/compare_builds.sh OLD_BINARY NEW_BINARY [ROUNDS=3] [SECONDS=10]
set -euo pipefail
old=$1 new=$2 rounds=${3:-3} seconds=${4:-10}
archs=m0,m1,m2,m3,m4,m5
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
[ -n "${KEEP:-}" ] && trap - EXIT && echo "raw results in $out" >&2
run() {  # binary, tag, round
  "$1" bench --arch "$archs" --threads 1 --batch 16 --warmup 2 --seconds "$seconds" --rounds 1 \
    --json --log-level warn > "$out/$2.$3.json"
}
for r in $(seq 1 "$rounds"); do
  if (( r % 2 )); then run "$old" old "$r"; run "$new" new "$r"; else run "$new" new "$r"; run "$old" old "$r"; fi
  echo "round $r/$rounds done (load $(cut -d' ' -f1 /proc/loadavg))" >&2
done
# One "tag arch img/s" line per measurement, then medians per (tag, arch).
for f in "$out"/*.json; do
  tag=$(basename "$f" | cut -d. -f1)
  tr -d " \n" < "$f" | grep -o '"arch":"[^"]*"\|"img_per_s":[0-9.e+]*' | paste - - |
    sed 's/"arch":"\([^"]*\)"\t"img_per_s":\(.*\)/\1 \2/' | sed "s/^/$tag /"
done | sort -k1,1 -k2,2 -k3,3g | awk -v rounds="$rounds" '
  { k = $1" "$2; v[k, ++n[k]] = $3 }
  END {
    printf "%-4s %12s %12s %8s\n", "arch", "old img/s", "new img/s", "new/old"
    split("m0 m1 m2 m3 m4 m5", a, " ")
    for (i = 1; i <= 6; i++) {
      ko = "old "a[i]; kn = "new "a[i]
      o = v[ko, int((n[ko] + 1) / 2)]; w = v[kn, int((n[kn] + 1) / 2)]
      printf "%-4s %12.1f %12.1f %8.3f\n", a[i], o, w, w / o
    }
  }'
