#!/usr/bin/env bash
# Fused-network throughput of two vitnas builds, interleaved in the same run: the check that a
# refactor kept the inference speed. For each round and each of m0..m5 the builds run `bench`
# (1 thread, batch 16, the official CPU protocol) in ABBA order (old new new old, then
# new old old new in the next round), so a drift of the machine within a pair, or an advantage of
# going first, cancels. Per arch: each build's median img/s, and the median and geometric mean
# over rounds of the round's ratio new / old (the sum of the two new runs over the two old ones).
# Usage: benchmarks/compare_builds.sh OLD_BINARY NEW_BINARY [ROUNDS=8] [SECONDS=4]
#        KEEP=1 keeps the raw results (one line per run: round arch tag img/s).
set -euo pipefail
old=$1 new=$2 rounds=${3:-8} seconds=${4:-4}
archs="m0 m1 m2 m3 m4 m5"
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
[ -n "${KEEP:-}" ] && trap - EXIT && echo "raw results in $raw" >&2
run() {  # tag, arch, round
  local bin=$old
  [ "$1" = new ] && bin=$new
  local ips
  ips=$("$bin" bench --arch "$2" --threads 1 --batch 16 --warmup 1 --seconds "$seconds" --rounds 1 \
    --json --log-level warn | tr -d ' \n' | grep -o '"img_per_s":[0-9.e+]*' | head -1 | cut -d: -f2)
  echo "$3 $2 $1 $ips" >> "$raw"
}
for r in $(seq 1 "$rounds"); do
  for a in $archs; do
    if (( r % 2 )); then order="old new new old"; else order="new old old new"; fi
    for tag in $order; do run "$tag" "$a" "$r"; done
  done
  echo "round $r/$rounds done (load $(cut -d' ' -f1 /proc/loadavg))" >&2
done
# Medians need sorted values: one "arch kind value" line per measurement and per round's ratio.
awk '{ s[$1" "$2" "$3] += $4; print $2, $3, $4 }
     END { for (k in s) if (k ~ / new$/) { split(k, f, " "); print f[2], "ratio", s[k] / s[f[1]" "f[2]" old"] } }' "$raw" |
  sort -k1,1 -k2,2 -k3,3g | awk -v archs="$archs" '
  { k = $1" "$2; v[k, ++n[k]] = $3; if ($2 == "ratio") lg[$1] += log($3) }
  function med(k) { return n[k] % 2 ? v[k, (n[k] + 1) / 2] : (v[k, n[k] / 2] + v[k, n[k] / 2 + 1]) / 2 }
  END {
    printf "%-4s %12s %12s %14s %14s\n", "arch", "old img/s", "new img/s", "median ratio", "geomean ratio"
    split(archs, a, " ")
    for (i = 1; i <= length(a); i++)
      printf "%-4s %12.1f %12.1f %14.3f %14.3f\n", a[i], med(a[i]" old"), med(a[i]" new"),
             med(a[i]" ratio"), exp(lg[a[i]] / n[a[i]" ratio"])
  }'
