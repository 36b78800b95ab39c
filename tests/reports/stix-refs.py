#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""stix-refs.py SCHEMA BUNDLE...: validates STIX bundles against avtb's STIX 2.1
subset schema (tests/data/stix21-subset.schema.json), then checks what a JSON
Schema cannot: ids are unique, every *_ref / *_refs points at an object in the
bundle (the schema already limits each to the types the spec allows), and the
spec's orderings of timestamps hold. Exits 1 on the first bundle that fails."""
import json
import sys

import jsonschema


def refs_of(obj):
    """(property, id) for every reference property of obj, nested ones too."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k.endswith("_ref") and isinstance(v, str):
                yield k, v
            elif k.endswith("_refs") and isinstance(v, list):
                for x in v:
                    yield k, x
            else:
                yield from refs_of(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from refs_of(v)


def check(schema, path):
    with open(path, encoding="utf-8") as f:
        bundle = json.load(f)
    errors = []
    v = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    for e in sorted(v.iter_errors(bundle), key=lambda e: list(e.absolute_path)):
        errors.append("/".join(map(str, e.absolute_path)) + ": " + e.message[:300])
    if errors:
        return errors
    ids = {}
    for i, o in enumerate(bundle["objects"]):
        if o["id"] in ids:
            errors.append(f"objects/{i}: id {o['id']} also at objects/{ids[o['id']]}")
        ids[o["id"]] = i
    for i, o in enumerate(bundle["objects"]):
        for prop, ref in refs_of(o):
            if ref not in ids:
                errors.append(f"objects/{i} ({o['id']}): {prop} {ref} is not in the bundle")
            elif ref == o["id"]:
                errors.append(f"objects/{i}: {prop} points at itself")
        # Fixed-width RFC 3339 UTC times with milliseconds compare as text.
        if "created" in o and o["modified"] < o["created"]:
            errors.append(f"objects/{i}: modified is before created")
        if o["type"] == "observed-data" and o["last_observed"] < o["first_observed"]:
            errors.append(f"objects/{i}: last_observed is before first_observed")
        if o["type"] == "network-traffic" and "start" in o and "end" in o and o["end"] <= o["start"]:
            errors.append(f"objects/{i}: end is not later than start")
    return errors


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    rc = 0
    for path in sys.argv[2:]:
        errors = check(schema, path)
        for e in errors:
            print(f"{path}: {e}", file=sys.stderr)
        if errors:
            rc = 1
        else:
            print(f"{path}: valid")
    return rc


if __name__ == "__main__":
    sys.exit(main())
