#!/usr/bin/env python3
"""Proves report.json as the checker writes it matches docs/report.schema.json.

Usage: test_sim_check_schema.py SCHEMA REPORT... -- validates each report
(the samples test_sim_check saves: one passing run, one that breaks most
invariants) against the JSON Schema, and checks what a schema cannot say:
the verdict agrees with the invariants, and `listed` counts the violations
shown. Exits 1 on the first problem, naming the file and the JSON path.
"""
import json
import sys

import jsonschema


def check(schema, path):
    with open(path, encoding="utf-8") as f:
        report = json.load(f)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(report), key=lambda e: list(e.path))
    for e in errors:
        where = "/".join(str(p) for p in e.path)
        print(f"{path}: {where or '(top)'}: {e.message}")
    if errors:
        return False
    holds = all(i["holds"] for i in report["invariants"])
    if (report["verdict"] == "pass") != holds:
        print(f"{path}: verdict {report['verdict']} disagrees with the invariants")
        return False
    for inv in report["invariants"]:
        shown = sum(1 for v in report["violations"] if v["invariant"] == inv["name"])
        if shown != inv["listed"] or inv["listed"] > inv["violations"]:
            print(f"{path}: {inv['name']}: listed {inv['listed']}, shown {shown}")
            return False
    return True


def main(argv):
    if len(argv) < 3:
        print("usage: test_sim_check_schema.py SCHEMA REPORT...")
        return 2
    with open(argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    ok = all([check(schema, p) for p in argv[2:]])
    print("ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
