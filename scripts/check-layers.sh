#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-layers.sh [SRCDIR] -- the layer rules of ARCHITECTURE.md ("Layers"), read from the
# #include "..." lines of src/, cli/ and tools/:
#  1. a file under src/<layer>/ includes only headers of its own layer and of the layers it
#     links, directly or not: the wagate_layer() calls in CMakeLists.txt are the edges, so the
#     build and this check cannot disagree (wagate_proto is the layer "proto": *.pb-c.h);
#  2. nothing in src/ includes cli/ or tools/ (cli/ and tools/ may include any layer);
#  3. a private header src/<layer>/*_int.h is included only from src/<layer>/ (tests/, which
#     is not checked, may include it too);
#  4. no include cycle between the modules of src/: a module is a .c/.h pair (gw/chhook), and
#     module A -> B when a file of A includes B's header. Each cycle (a set of modules that
#     all reach each other) is reported with the includes that make it, unless a line of
#     scripts/layers-allow.txt lists all its modules.
# Prints one line per violation and exits 1; exits 0 when every rule holds.
set -euo pipefail
SRC=$(cd "${1:-$(dirname "$0")/..}" && pwd)
cd "$SRC"
ALLOW=scripts/layers-allow.txt
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# The layer edges: "wagate_layer(wa wagate_store ...)" -> "wa store ...", one layer a line.
awk '/^[[:space:]]*wagate_layer\(/ { on = 1; s = "" }
     on { s = s " " $0; if (index($0, ")")) { on = 0; print s } }' CMakeLists.txt |
  sed -e 's/.*wagate_layer(//' -e 's/).*//' -e 's/wagate_//g' > "$T/edges"
if [ ! -s "$T/edges" ]; then
  echo "check-layers: no wagate_layer() call found in $SRC/CMakeLists.txt" >&2
  exit 2
fi
find src cli tools -type f \( -name '*.c' -o -name '*.h' \) | LC_ALL=C sort > "$T/files"
{ xargs grep -HnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' < "$T/files" || true; } \
  > "$T/includes"
if [ -f "$ALLOW" ]; then cp "$ALLOW" "$T/allow"; else : > "$T/allow"; fi

LC_ALL=C awk -v allowfile="$ALLOW" '
function normalize(p,    n, a, out, i, k) {
    n = split(p, a, "/"); k = 0
    for (i = 1; i <= n; i++) {
        if (a[i] == "" || a[i] == ".") continue
        if (a[i] == ".." && k > 0) { k--; continue }
        out[++k] = a[i]
    }
    p = ""
    for (i = 1; i <= k; i++) p = p (i > 1 ? "/" : "") out[i]
    return p
}
function dirname(p) { sub(/\/[^\/]*$/, "", p); return p }
function layer_of(p) {
    if (p !~ /^src\/[^\/]+\//) return ""
    p = substr(p, 5); return substr(p, 1, index(p, "/") - 1)
}
# gw/chhook for src/gw/chhook.[ch]; a private store/db_int.h belongs to store/db.
function module_of(p) { sub(/^src\//, "", p); sub(/(_int)?\.[ch]$/, "", p); return p }
# The file an include names (as the compiler looks: next to the includer, then src/), or
# "@proto" / "@core" for the generated headers, or "" if none.
function resolve(from, inc,    c) {
    c = normalize(dirname(from) "/" inc); if (c in file) return c
    c = normalize("src/" inc); if (c in file) return c
    c = normalize(inc); if (c in file) return c
    if (inc ~ /(^|\/)[^\/]+\.pb-c\.h$/) return "@proto"
    if (inc == "wagate_version.h") return "@core"
    return ""
}
function bad(msg) { print "check-layers: " msg; nbad++ }
# may[l, x]: layer l may include layer x (itself and every layer it links, directly or not).
function closure(l,    seen, stack, n, x, i, k, d) {
    n = 0; stack[++n] = l; seen[l] = 1
    while (n > 0) {
        x = stack[n--]
        k = split(deps[x], d, " ")
        for (i = 1; i <= k; i++) if (!(d[i] in seen)) { seen[d[i]] = 1; stack[++n] = d[i] }
    }
    for (x in seen) may[l, x] = 1
}
function sort(a, n,    i, j, t) {
    for (i = 1; i <= n; i++)
        for (j = i + 1; j <= n; j++)
            if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
}
function check_layer(from, line, inc, src, tl,    l, list) {
    if (!(src in deps)) {
        bad(from ": src/" src "/ is no layer of CMakeLists.txt (wagate_layer)")
        return
    }
    if (!((src, src) in may)) closure(src)
    if ((src, tl) in may) return
    list = ""
    for (l in layer) if ((src, l) in may) list = list " " l
    bad(from ":" line ": #include \"" inc "\" is of layer " tl ", which " src \
        " may not use (" src " uses:" list ")")
}
FILENAME ~ /edges$/ {
    deps[$1] = ""; layer[$1] = 1
    for (i = 2; i <= NF; i++) { deps[$1] = deps[$1] " " $i; if ($i != "deps") layer[$i] = 1 }
    next
}
FILENAME ~ /files$/ { file[$0] = 1; next }
FILENAME ~ /allow$/ {
    sub(/#.*/, ""); if (NF == 0) next
    nallow++; allowline[nallow] = $0
    for (i = 1; i <= NF; i++) allowed[nallow, $i] = 1
    next
}
{   # path:line:#include "x"
    split($0, f, ":"); from = f[1]; line = f[2]
    inc = $0; sub(/^[^"]*"/, "", inc); sub(/".*$/, "", inc)
    at = from ":" line ": #include \"" inc "\""
    to = resolve(from, inc)
    if (to == "") { bad(at " names no file of src/, cli/ or tools/"); next }
    if (to ~ /_int\.h$/ && dirname(to) != dirname(from))
        bad(at " is private to " dirname(to) "/")
    src = layer_of(from)
    if (src == "") next
    if (to ~ /^(cli|tools)\//) { bad(at ": nothing in src/ includes cli/ or tools/"); next }
    check_layer(from, line, inc, src, to ~ /^@/ ? substr(to, 2) : layer_of(to))
    if (to !~ /^src\//) next
    a = module_of(from); b = module_of(to)
    if (a == b) next
    mod[a] = 1; mod[b] = 1
    if (!((a, b) in edge)) { edge[a, b] = at; succ[a] = succ[a] " " b }
}
function reach_from(a,    seen, q, n, x, d, i, k) {
    n = 0; q[++n] = a
    while (n > 0) {
        x = q[n--]
        k = split(succ[x], d, " ")
        for (i = 1; i <= k; i++)
            if (!(d[i] in seen)) { seen[d[i]] = 1; reach[a, d[i]] = 1; q[++n] = d[i] }
    }
}
# Each cycle: the modules that reach each other, named by the smallest; allowed when one line
# of the allow-list holds all its modules. A line holding none of any cycle is stale.
function check_cycle(root,    m, k, i, j, l, all, any, ok, names) {
    k = split(members[root], m, " "); sort(m, k)
    names = ""
    for (i = 1; i <= k; i++) names = names (i > 1 ? " " : "") m[i]
    ok = 0
    for (l = 1; l <= nallow; l++) {
        all = 1; any = 0
        for (i = 1; i <= k; i++) if ((l, m[i]) in allowed) any = 1; else all = 0
        if (any) used[l] = 1
        if (all) ok = 1
    }
    if (ok) { print "check-layers: allowed by " allowfile ": include cycle " names; return }
    bad("include cycle between modules " names ":")
    for (i = 1; i <= k; i++)
        for (j = 1; j <= k; j++)
            if ((m[i], m[j]) in edge) print "    " m[i] " -> " m[j] "  (" edge[m[i], m[j]] ")"
}
END {
    for (a in mod) reach_from(a)
    for (a in mod) {
        if (!((a, a) in reach)) continue
        root = a
        for (b in mod) if ((a, b) in reach && (b, a) in reach && b < root) root = b
        members[root] = members[root] " " a
    }
    n = 0
    for (root in members) roots[++n] = root
    sort(roots, n)
    for (i = 1; i <= n; i++) check_cycle(roots[i])
    for (l = 1; l <= nallow; l++)
        if (!(l in used))
            print "check-layers: note: " allowfile ": \"" allowline[l] "\" is no cycle any more:" \
                " delete the line"
    if (nbad) {
        print "check-layers: " nbad " violation(s) of the layer rules (ARCHITECTURE.md, Layers)"
        exit 1
    }
    print "check-layers: ok"
}' "$T/edges" "$T/files" "$T/allow" "$T/includes"
