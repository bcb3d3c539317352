#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""check-openapi.py SRC_DIR -- docs/openapi.json against the routes the code registers.

The routes are read from the C sources, not from a list kept by hand:
  * every api_server_add_route(s, "METHOD", PATH, AUTH, HANDLER, ...) call (PATH a string or a
    #define'd one), and the WebSocket route EVENTS_PATH (GET);
  * a PATH ending in "/" is a resource per account: the handler's strcmp(action, "x") branches
    are PATH{account}/x, its `action[0] == '\\0'` branch is PATH{account};
  * a handler that looks at `req->rest[0] == '/'` also serves PATH/{id};
  * a handler serving gw_dashboard_asset(req->rest) serves PATH and PATH{asset}.
A handler registered with a "/"-ending PATH that shows none of these patterns is an error (the
check cannot tell its routes). The comparison ignores parameter names ({account} = {x}).
Also checked: an operation whose route is registered without auth (AUTH `false`) declares
`security: []`, and one with auth declares a bearer requirement; every operation has responses.
Exits 1 listing every difference. It then checks itself: a copy of the spec with one operation
dropped and a made-up one added must give exactly those two differences more.
"""
import copy
import json
import os
import re
import sys

METHODS = ("get", "post", "put", "delete", "patch")


def read_sources(src):
    files = {}
    for d, _, names in os.walk(os.path.join(src, "src")):
        for n in names:
            if n.endswith((".c", ".h")):
                p = os.path.join(d, n)
                with open(p, encoding="utf-8") as f:
                    files[os.path.relpath(p, src)] = f.read()
    return files


def defines(files):
    out = {}
    for text in files.values():
        for m in re.finditer(r'^#define\s+([A-Z_][A-Z0-9_]*)\s+"([^"]*)"', text, re.M):
            out[m.group(1)] = m.group(2)
    return out


def func_body(text, name):
    m = re.search(r"^static void %s\([^)]*\)\s*\{" % re.escape(name), text, re.M)
    if not m:
        return None
    end = text.find("\n}\n", m.end())
    return text[m.end():end]


def code_routes(src):
    """{(METHOD, path): auth} where auth is True, False or 'optional'."""
    files = read_sources(src)
    defs = defines(files)
    routes, errors = {}, []
    call = re.compile(r'api_server_add_route\(\s*\w+\s*,\s*"([A-Z]+)"\s*,\s*("[^"]*"|[A-Z_][A-Z0-9_]*)'
                      r'\s*,\s*([^,]+?)\s*,\s*(\w+)\s*,')
    for fname, text in sorted(files.items()):
        for m in call.finditer(text):
            method, praw, auth_raw, handler = m.groups()
            path = praw[1:-1] if praw.startswith('"') else defs.get(praw)
            if path is None:
                errors.append("%s: route path %s is not a #define'd string" % (fname, praw))
                continue
            auth = True if auth_raw == "true" else False if auth_raw == "false" else "optional"
            body = func_body(text, handler) or ""
            subs = []
            if "gw_dashboard_asset(req->rest)" in body:
                subs = ["", "{asset}"]
            elif path.endswith("/"):
                subs = ["{account}/" + a for a in re.findall(r'strcmp\(action, "([^"]+)"\)', body)]
                if re.search(r"action\[0\] == '\\0'", body):
                    subs.append("{account}")
                if not subs:
                    errors.append("%s: %s %s (%s): no sub-routes found" % (fname, method, path, handler))
            elif re.search(r'strcmp\(slash, "/\w+"\)', body):
                # "{path}/{id}/<action>" only (the id is what comes before the slash)
                subs = ["/{id}" + a for a in re.findall(r'strcmp\(slash, "(/\w+)"\)', body)]
            else:
                subs = [""]
                if "req->rest[0] == '/'" in body:
                    subs.append("/{id}")
                    if "!rest[0]" in body:  # the bare path is refused: only "/{id}"
                        subs = ["/{id}"]
            for s in subs:
                routes[(method, path + s)] = auth
    ev = defs.get("EVENTS_PATH")
    if not ev:
        errors.append("EVENTS_PATH (the WebSocket route) not found")
    else:
        routes[("GET", ev)] = True
    return routes, errors


def norm(path):
    return re.sub(r"\{[^}]*\}", "{}", path)


def compare(routes, spec):
    diffs = []
    have = {}
    for path, item in spec.get("paths", {}).items():
        for method, o in item.items():
            if method in METHODS:
                have[(method.upper(), norm(path))] = (path, o)
    want = {(m, norm(p)): (p, a) for (m, p), a in routes.items()}
    for k in sorted(want.keys() - have.keys()):
        diffs.append("in the code, not in docs/openapi.json: %s %s" % (k[0], want[k][0]))
    for k in sorted(have.keys() - want.keys()):
        diffs.append("in docs/openapi.json, not in the code: %s %s" % (k[0], have[k][0]))
    for k in sorted(want.keys() & have.keys()):
        path, o = have[k]
        auth = want[k][1]
        sec = o.get("security")
        if not o.get("responses"):
            diffs.append("%s %s: no responses" % (k[0], path))
        if sec is None:
            diffs.append("%s %s: no security (use [] for none)" % (k[0], path))
        elif auth is False and sec != []:
            diffs.append("%s %s: served without a token, but the spec asks for one" % (k[0], path))
        elif auth is True and (not sec or {} in sec):
            diffs.append("%s %s: needs the token, the spec says it does not" % (k[0], path))
        elif auth == "optional" and not any("bearer" in s for s in sec):
            diffs.append("%s %s: may need the token, the spec never asks for it" % (k[0], path))
    return diffs


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    with open(os.path.join(src, "docs", "openapi.json"), encoding="utf-8") as f:
        spec = json.load(f)
    routes, errors = code_routes(src)
    diffs = errors + compare(routes, spec)
    for d in diffs:
        print("not ok - " + d)
    # the check checks itself: one operation dropped, one made up
    bad = copy.deepcopy(spec)
    (m, p) = sorted(routes)[0]
    path = next(x for x in bad["paths"] if norm(x) == norm(p))
    del bad["paths"][path][m.lower()]
    bad["paths"]["/api/v1/made-up"] = {"get": {"security": [], "responses": {"200": {"description": "x"}}}}
    base = compare(routes, spec)
    got = [g for g in compare(routes, bad) if g not in base]
    self_ok = len(got) == 2 and any("not in docs/openapi.json: %s %s" % (m, p) in g for g in got) \
        and any("/api/v1/made-up" in g for g in got)
    if not self_ok:
        print("not ok - self-check: a changed spec gave %r" % got)
    print("# %d routes in the code, %d operations in docs/openapi.json" %
          (len(routes), sum(1 for i in spec["paths"].values() for k in i if k in METHODS)))
    if diffs or not self_ok:
        return 1
    print("ok - docs/openapi.json matches the route table")
    return 0


if __name__ == "__main__":
    sys.exit(main())
