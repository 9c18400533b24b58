#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""validate-cdi.py SPEC.json... - check CDI specs as a container runtime would.

1. The CDI JSON schema (schema.json + defs.json beside this file, copied from
   cncf-tags/container-device-interface), made strict: the runtimes' Go loader
   refuses unknown fields, so every object with "properties" gets
   additionalProperties: false here (the upstream schema alone would accept a
   misspelt "additionalGIDs").
2. The rules SPEC.md states outside the schema: a known cdiVersion, no lower
   than the fields used need (specs-go/version.go: requiresV040..V110), the
   kind and device name syntax, env as NAME=VALUE, absolute mount paths.

Needs python3-jsonschema (Debian). Exit 0 when every spec is valid; else one
line per problem on stderr and exit 1. Python 3 standard library + jsonschema.
"""

import copy
import json
import os
import re
import sys

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
VERSIONS = ["0.3.0", "0.4.0", "0.5.0", "0.6.0", "0.7.0", "0.8.0", "1.0.0", "1.1.0"]
NAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$")
DNS_LABEL_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def strict_schema():
    """schema.json with defs.json inlined (no resolver: works with every
    jsonschema version) and additionalProperties: false on every object."""
    with open(os.path.join(HERE, "schema.json")) as f:
        schema = json.load(f)
    with open(os.path.join(HERE, "defs.json")) as f:
        defs = json.load(f)

    def walk(node):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("defs.json#"):
                node["$ref"] = ref[len("defs.json"):]
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    schema = copy.deepcopy(schema)
    schema["definitions"] = copy.deepcopy(defs["definitions"])
    walk(schema)
    return schema


def all_edits(spec):
    edits = [spec.get("containerEdits") or {}]
    edits += [d.get("containerEdits") or {} for d in spec.get("devices") or []]
    return edits


def required_version(spec):
    """specs-go/version.go's requiredVersion(), for the fields a spec uses."""
    edits = all_edits(spec)
    devices = spec.get("devices") or []
    for e in edits:
        rdt = e.get("intelRdt")
        if e.get("netDevices") or (rdt and ("schemata" in rdt or rdt.get("enableMonitoring"))):
            return "1.1.0"
    if any(e.get("intelRdt") is not None or e.get("additionalGids") for e in edits):
        return "0.7.0"
    kind = spec.get("kind", "")
    if spec.get("annotations") or any(d.get("annotations") for d in devices) or \
            ("/" in kind and "." in kind.split("/", 1)[1]):
        return "0.6.0"
    if any(d.get("name", "x")[:1].isdigit() for d in devices) or \
            any(n.get("hostPath") for e in edits for n in e.get("deviceNodes") or []):
        return "0.5.0"
    if any(m.get("type") for e in edits for m in e.get("mounts") or []):
        return "0.4.0"
    return "0.3.0"


def rule_errors(spec):
    errs = []
    version = str(spec.get("cdiVersion", "")).lstrip("v")
    if version not in VERSIONS:
        errs.append("cdiVersion %r is not a released CDI version %s" % (version, VERSIONS))
    else:
        need = required_version(spec)
        if VERSIONS.index(version) < VERSIONS.index(need):
            errs.append("cdiVersion %s is lower than %s, which the fields used need" %
                        (version, need))
    kind = spec.get("kind", "")
    vendor, _, cls = kind.partition("/")
    if not (vendor and cls and len(vendor) <= 253 and len(cls) <= 63 and
            all(DNS_LABEL_RE.match(lbl) for lbl in vendor.split(".")) and NAME_RE.match(cls)):
        errs.append("kind %r is not VENDOR-DNS-NAME/CLASS" % kind)
    devices = spec.get("devices") or []
    if not devices:
        errs.append("a spec needs at least one device")
    names = [d.get("name", "") for d in devices]
    for n in names:
        if not NAME_RE.match(n):
            errs.append("device name %r is not valid" % n)
    if len(set(names)) != len(names):
        errs.append("device names repeat")
    for e in all_edits(spec):
        for v in e.get("env") or []:
            if not isinstance(v, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", v):
                errs.append("env entry %r is not NAME=VALUE" % (v,))
        for m in e.get("mounts") or []:
            for k in ("hostPath", "containerPath"):
                if not str(m.get(k, "")).startswith("/"):
                    errs.append("mount %s %r is not absolute" % (k, m.get(k)))
        for g in e.get("additionalGids") or []:
            if g == 0:
                errs.append("additionalGids 0 is ignored by runtimes (and means root)")
    return errs


def main(paths):
    validator = jsonschema.Draft7Validator(strict_schema())
    bad = 0
    for path in paths:
        try:
            with open(path) as f:
                spec = json.load(f)
        except (OSError, ValueError) as e:
            print("%s: not JSON: %s" % (path, e), file=sys.stderr)
            bad += 1
            continue
        errs = ["schema: %s at /%s" % (e.message, "/".join(map(str, e.absolute_path)))
                for e in validator.iter_errors(spec)]
        if isinstance(spec, dict):
            errs += rule_errors(spec)
        for e in errs:
            print("%s: %s" % (path, e), file=sys.stderr)
        bad += bool(errs)
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print("usage: validate-cdi.py SPEC.json...", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
