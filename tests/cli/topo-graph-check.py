#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""topo-graph-check.py SVG TOPO.json MATRIX.json [--expect-group BDF,BDF,...]...
   [--expect-alone BDF]... [--expect-acs BDF]... [--expect-no-acs] [--expect-text TEXT]...

Checks a `p2pctl topo --format svg` picture against p2pctl's own JSON:
- the SVG is well-formed XML (Python's parser) with a legend;
- every function of TOPO.json is a node whose text starts with its BDF;
- endpoints filled alike are pairwise bus_addr both ways in MATRIX.json;
- --expect-group: these endpoints share one fill, not white;
- --expect-alone: this endpoint is white (no bus_addr peer);
- --expect-acs: this node has the red ACS border; --expect-no-acs: no node has;
- --expect-text: some <text> element is exactly TEXT (escaping round trip).
Prints one line per problem; exit 0 when none. Python 3 standard library only.
"""

import argparse
import json
import sys
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"
ACS_COLOR = "#d00000"
WHITE = ("white", "#ffffff")


def nodes_of(root):
    """{bdf: {"fill", "stroke", "texts"}} from graphviz's <g class="node">."""
    out = {}
    for g in root.iter(SVG + "g"):
        if g.get("class") != "node":
            continue
        texts = ["".join(t.itertext()) for t in g.iter(SVG + "text")]
        shape = next((e for e in g if e.tag in (SVG + "path", SVG + "polygon")), None)
        if not texts or shape is None:
            continue
        bdf = texts[0].split(" ")[0]
        out[bdf] = {"fill": shape.get("fill"), "stroke": shape.get("stroke"), "texts": texts}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("svg")
    ap.add_argument("topo")
    ap.add_argument("matrix")
    ap.add_argument("--expect-group", action="append", default=[])
    ap.add_argument("--expect-alone", action="append", default=[])
    ap.add_argument("--expect-acs", action="append", default=[])
    ap.add_argument("--expect-no-acs", action="store_true")
    ap.add_argument("--expect-text", action="append", default=[])
    a = ap.parse_args()
    errs = []
    try:
        root = ET.parse(a.svg).getroot()
    except ET.ParseError as e:
        print("SVG is not well-formed XML: %s" % e)
        return 1
    if root.tag != SVG + "svg":
        errs.append("root element is %s, not svg" % root.tag)
    alltext = ["".join(t.itertext()) for t in root.iter(SVG + "text")]
    if "Legend" not in alltext:
        errs.append("no legend")
    if any(e.tag == SVG + "script" for e in root.iter()):
        errs.append("the SVG has a <script> element")
    nodes = nodes_of(root)
    # sysfs names reach the JSON as they are (invalid UTF-8 included)
    topo = json.load(open(a.topo, encoding="utf-8", errors="replace"))
    for d in topo["devices"]:
        if d["bdf"] not in nodes:
            errs.append("function %s is not drawn" % d["bdf"])
    m = json.load(open(a.matrix, encoding="utf-8", errors="replace"))
    idx = {b: i for i, b in enumerate(m["devices"])}

    def bus_addr(p, c):
        return m["rows"][idx[p]]["cells"][idx[c]]["map_type"] == "bus_addr"

    by_fill = {}
    for bdf, n in nodes.items():
        if bdf in idx and n["fill"] not in WHITE:
            by_fill.setdefault(n["fill"], []).append(bdf)
    for fill, members in by_fill.items():
        for x in members:
            for y in members:
                if x != y and not (bus_addr(x, y) and bus_addr(y, x)):
                    errs.append("%s and %s are filled alike (%s) but not bus_addr both ways"
                                % (x, y, fill))
    for grp in a.expect_group:
        members = grp.split(",")
        fills = {nodes.get(b, {}).get("fill") for b in members}
        if len(fills) != 1 or fills & {None, *WHITE}:
            errs.append("expected one shared fill for %s, got %s" % (grp, fills))
    for b in a.expect_alone:
        if nodes.get(b, {}).get("fill") not in WHITE:
            errs.append("expected %s white, got %s" % (b, nodes.get(b, {}).get("fill")))
    for b in a.expect_acs:
        if nodes.get(b, {}).get("stroke") != ACS_COLOR:
            errs.append("expected the ACS border on %s, got %s" % (b, nodes.get(b, {}).get("stroke")))
    if a.expect_no_acs:
        red = [b for b, n in nodes.items() if n["stroke"] == ACS_COLOR]
        if red:
            errs.append("ACS border on %s" % red)
    for t in a.expect_text:
        if not any(t in x for x in alltext):
            errs.append("no text contains %r" % t)
    for e in errs:
        print(e)
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
