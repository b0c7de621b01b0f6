#!/usr/bin/env bash
# Renders the benchmark chart: datagrams/s by row (backend or method) and datagram size,
# one panel per row group (send, receive, scaling, ...), from mmsg-perf's CSV output.
#
# Usage: build/chart.sh [CSV]      read CSV (as written by `mmsg-perf --csv FILE`), or
#                                  without CSV: build mmsg-perf and run it first
#        options: --out DIR        where to write benchmark.svg/.png/.csv (default doc/)
#                 --sizes LIST     sizes for the run (default 64,512,1232)
#                 --rounds N       rounds for the run (default 5)
#                 --rows LIST      only these rows (mmsg-perf --rows; default: all)
# Writes DIR/benchmark.svg, DIR/benchmark.png (when gnuplot has the pngcairo or png
# terminal) and, after a run, DIR/benchmark.csv (the data the chart shows) and
# DIR/benchmark_conditions.adoc (when, where and under what load it ran).
# Needs gnuplot (Debian: gnuplot-nox); a run also needs b2. Loopback only.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$root/doc
sizes=64,512,1232
rounds=5
rows=()
csv=
while (($#)); do
    case $1 in
        --out) out=$2; shift 2 ;;
        --sizes) sizes=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --rows) rows=(--rows "$2"); shift 2 ;;
        -h | --help) sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "chart.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) csv=$1; shift ;;
    esac
done
command -v gnuplot >/dev/null || { echo "chart.sh: gnuplot is missing (apt-get install gnuplot-nox)" >&2; exit 1; }
mkdir -p "$out"
work=$(mktemp -d /tmp/mmsg-chart.XXXXXX)
trap 'rm -rf "$work"' EXIT

if [[ -z $csv ]]; then
    build=${MMSG_BUILD_DIR:-$work}/chart-b2
    (cd "$root" && b2 -d0 -j"${MMSG_JOBS:-2}" --build-dir="$build" bench)
    perf=$(find "$build" -type f -name mmsg-perf -perm -u+x | head -n 1)
    [[ -x $perf ]] || { echo "chart.sh: mmsg-perf was not built" >&2; exit 1; }
    echo "chart.sh: $perf --size $sizes --rounds $rounds --csv $out/benchmark.csv" >&2
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    "$perf" --size "$sizes" --rounds "$rounds" "${rows[@]}" --csv "$out/benchmark.csv" >&2
    csv=$out/benchmark.csv
    # The conditions of the run, for the documentation (doc/benchmarks.adoc includes it).
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
    cat >"$out/benchmark_conditions.adoc" <<ADOC
The committed chart and data were produced on $(date -u '+%Y-%m-%d %H:%M UTC') by
\`build/chart.sh\` (\`mmsg-perf --size $sizes --rounds $rounds${rows[1]:+ --rows ${rows[1]}}\`), on Linux $(uname -r),
$(nproc) CPUs (${cpu:-unknown model}), with a load average of $load when it started.
ADOC
fi
[[ -r $csv ]] || { echo "chart.sh: cannot read $csv" >&2; exit 1; }

# CSV -> one gnuplot table per group: a header `size "row 1" "row 2" ...`, then one line per
# size with datagrams/s in millions ("-" where a row did not run). Plain awk (mawk too):
# fields may be quoted and contain commas.
awk -v dir="$work" '
function split_csv(line, f,    n, i, c, q, cur) {
    n = 0; cur = ""; q = 0
    for (i = 1; i <= length(line); i++) {
        c = substr(line, i, 1)
        if (q) { if (c == "\"") { if (substr(line, i + 1, 1) == "\"") { cur = cur c; i++ } else q = 0 } else cur = cur c }
        else if (c == "\"") q = 1
        else if (c == ",") { f[++n] = cur; cur = "" }
        else cur = cur c
    }
    f[++n] = cur
    return n
}
NR == 1 { n = split_csv($0, h); for (i = 1; i <= n; i++) col[h[i]] = i; next }
{
    split_csv($0, f)
    g = f[col["group"]]; r = f[col["name"]]; s = f[col["size"]] + 0
    v = (f[col["status"]] == "ok") ? sprintf("%.4f", f[col["datagrams_per_s"]] / 1e6) : "-"
    if (!(g in seen_g)) { seen_g[g] = 1; groups[++ng] = g }
    if (!((g, r) in seen_r)) { seen_r[g, r] = 1; nr[g]++; rows[g, nr[g]] = r }
    if (!((g, s) in seen_s)) { seen_s[g, s] = 1; ns[g]++; sz[g, ns[g]] = s }
    val[g, r, s] = v
}
END {
    for (k = 1; k <= ng; k++) {
        g = groups[k]; file = dir "/" k ".dat"
        line = "size"
        for (j = 1; j <= nr[g]; j++) line = line " \"" rows[g, j] "\""
        print line > file
        for (i = 1; i <= ns[g]; i++) {
            s = sz[g, i]; line = s
            for (j = 1; j <= nr[g]; j++) line = line " " (((g, rows[g, j], s) in val) ? val[g, rows[g, j], s] : "-")
            print line > file
        }
        close(file)
        print g > (dir "/groups")
    }
}' "$csv"
[[ -s $work/groups ]] || { echo "chart.sh: no results in $csv" >&2; exit 1; }
mapfile -t groups <"$work/groups"

settings="loopback 127.0.0.1, Linux $(uname -r | cut -d- -f1), $(nproc) CPUs"
plot() { # plot TERMINAL-LINE FILE
    {
        echo "$1"
        echo "set output '$2'"
        echo "set datafile missing '-'"
        echo "set style data histogram"
        echo "set style histogram cluster gap 1"
        echo "set style fill solid 0.85 border -1"
        echo "set boxwidth 0.9"
        echo "set key below font ',9' samplen 1 maxrows 3"
        echo "set grid ytics"
        echo "set yrange [0:*]"
        echo "set ylabel 'million datagrams/s'"
        echo "unset xlabel"
        echo "set multiplot layout $nrows,$ncols title \"mmsg-perf: datagrams/s by method (bars) and payload size in bytes (x axis); higher is better\\n$settings\" font ',11'"
        local k=1 g ncol
        for g in "${groups[@]}"; do
            ncol=$(head -n 1 "$work/$k.dat" | awk -F'"' '{ print (NF - 1) / 2 }')
            echo "set title '$g'"
            echo "plot for [c=2:$((ncol + 1))] '$work/$k.dat' using c:xtic(1) title columnheader(c)"
            k=$((k + 1))
        done
        echo "unset multiplot"
    } | gnuplot
}
# A grid of panels, at most three across.
ngroups=${#groups[@]}
ncols=$((ngroups < 3 ? ngroups : 3))
nrows=$(((ngroups + ncols - 1) / ncols))
width=$((440 * ncols)); ((width >= 640)) || width=640
height=$((70 + 420 * nrows))
plot "set terminal svg size $width,$height dynamic noenhanced font 'sans,10' background '#ffffff'" "$out/benchmark.svg"
echo "chart.sh: wrote $out/benchmark.svg" >&2
terms=$(gnuplot -e 'set terminal' 2>&1 || true)
if grep -qw pngcairo <<<"$terms"; then
    plot "set terminal pngcairo size $width,$height noenhanced font 'sans,10' background '#ffffff'" "$out/benchmark.png"
    echo "chart.sh: wrote $out/benchmark.png" >&2
elif grep -qw png <<<"$terms"; then
    plot "set terminal png size $width,$height background '#ffffff'" "$out/benchmark.png"
    echo "chart.sh: wrote $out/benchmark.png" >&2
fi
