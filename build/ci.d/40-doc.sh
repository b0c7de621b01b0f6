#!/usr/bin/env bash
# CI hook: the documentation. Builds the HTML with `b2 doc` (doc/html/mmsg.html), checks
# that no program code in doc/*.adoc is typed inline (source blocks hold only include::
# lines of compiled files; typed blocks may hold shell commands only), that the result has no unresolved include, that the
# chart script renders the committed data, and that the README shows the chart.
# Last line: `N passed, N failed`. Needs asciidoctor, perl, gnuplot (build/packages.txt).
set -uo pipefail

root=${MMSG_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
cd "$root"
if [[ -n ${MMSG_BUILD_DIR:-} ]]; then
    work=$MMSG_BUILD_DIR/40-doc
    rm -rf "$work" && mkdir -p "$work"
else
    work=$(mktemp -d /tmp/mmsg-doc.XXXXXX)
    trap 'rm -rf "$work"' EXIT
fi
log=$work/log
passed=0 failed=0
check() { # check NAME COMMAND...
    local name=$1; shift
    if "$@" >"$log" 2>&1; then
        passed=$((passed + 1)); echo "  pass: $name"
    else
        failed=$((failed + 1)); echo "  FAIL: $name"; sed 's/^/    | /' "$log" | tail -40
    fi
}

build_html() {
    rm -f doc/html/mmsg.html
    b2 -j"${MMSG_JOBS:-2}" --build-dir="$work/b2" doc && [[ -s doc/html/mmsg.html ]]
}
# Code shown in the docs must come from compiled files. In doc/*.adoc:
#  - a [source] block in C++ (the default language), C or CMake holds include:: lines only;
#  - a block of shell commands ([source,bash|sh|shell|console], or a plain ----/.... block)
#    may be typed, but must not contain program code (C++ markers fail it);
#  - a [source] style line must open a delimited block, not a typed paragraph.
no_inline_code() {
    awk '
        function is_code(l) {
            return l ~ /#include|std::|mmsg::|^[[:space:]]*(template|class|struct|namespace|return|auto|const|int|void)[[:space:]<]|;[[:space:]]*(\/\/.*)?$|[{}][[:space:]]*$/
        }
        FNR == 1 { inblock = ""; pending = 0; style = "" }
        /^(----|\.\.\.\.)[[:space:]]*$/ {
            if (inblock == "") {
                inblock = $0; start = FNR
                strict = (pending && lang !~ /^(bash|sh|shell|console|text)$/)
                pending = 0
                next
            }
            if ($0 == inblock) { inblock = ""; next }
        }
        inblock != "" {
            if ($0 ~ /^include::/ || $0 ~ /^[[:space:]]*$/) next
            if (strict) {
                printf "%s:%d: [source,%s] block with code typed inline (opened at line %d): %s\n", FILENAME, FNR, lang, start, $0
                bad = 1
            } else if (is_code($0)) {
                printf "%s:%d: program code typed inline (block opened at line %d): %s\n", FILENAME, FNR, start, $0
                bad = 1
            }
            next
        }
        pending {
            if ($0 !~ /^(----|\.\.\.\.)/) {
                printf "%s:%d: [source] applies to a paragraph typed inline, not to an included block\n", FILENAME, FNR - 1
                bad = 1
            }
            pending = 0
        }
        /^\[(source|listing|literal)[],]/ {
            pending = 1
            lang = $0
            if (lang ~ /^\[source,/) { sub(/^\[source,[[:space:]]*/, "", lang); sub(/[],].*/, "", lang) }
            else lang = ($0 ~ /^\[source/) ? "c++" : "text"
        }
        END { exit bad }
    ' doc/*.adoc
}
includes_exist() { # the non-optional include:: targets of doc/*.adoc exist
    local f line target bad=0
    for f in doc/*.adoc; do
        while IFS= read -r line; do
            target=${line#include::}
            target=${target%%\[*}
            [[ $target == *'{'* ]] && continue        # generated at build time
            [[ $line == *opts=optional* ]] && continue
            [[ -f doc/$target ]] || { echo "$f: missing $target"; bad=1; }
        done < <(grep -E '^include::' "$f")
    done
    return $bad
}
every_doc_included() { # every doc/*.adoc but the master is included somewhere: no orphan chapter
    local f name bad=0
    for f in doc/*.adoc; do
        name=$(basename "$f")
        [[ $name == mmsg.adoc ]] && continue
        grep -qE "^include::$name\[" doc/*.adoc || { echo "$f is included by no document"; bad=1; }
    done
    return $bad
}
html_complete() { # no unresolved include; a reference section for every public header
    local h id bad=0
    ! grep -n 'Unresolved directive' doc/html/mmsg.html || return 1
    while IFS= read -r h; do
        id=ref_$(tr '/.' '__' <<<"${h#include/}")
        grep -q "id=\"$id\"" doc/html/mmsg.html || { echo "no reference section for $h"; bad=1; }
    done < <(find include -name '*.hpp' -not -path '*/detail/*' | sort)
    return $bad
}
chart_renders() {
    build/chart.sh --out "$work/chart" doc/benchmark.csv && [[ -s $work/chart/benchmark.svg ]] &&
        grep -q '<svg' "$work/chart/benchmark.svg"
}
readme_shows_chart() {
    grep -Eq 'doc/benchmark\.(svg|png)' README.md && grep -q 'doc/' README.md
}

check "b2 doc builds doc/html/mmsg.html (no asciidoctor warning)" build_html
check "no program code typed inline in doc/*.adoc" no_inline_code
check "every include:: of the docs exists" includes_exist
check "every doc/*.adoc is part of the master document" every_doc_included
check "the HTML has every include resolved and the header reference" html_complete
check "build/chart.sh renders doc/benchmark.csv" chart_renders
check "README.md shows the chart" readme_shows_chart
echo "$passed passed, $failed failed"
((failed == 0))
