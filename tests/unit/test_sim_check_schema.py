#!/usr/bin/env python3
"""Proves report.json as the checker writes it matches docs/report.schema.json.

Usage: test_sim_check_schema.py SCHEMA REPORT... -- validates each report
(the samples test_sim_check saves: one passing run, one that breaks most
invariants) against the JSON Schema, and checks what a schema cannot say:
the verdict agrees with the invariants and the expectations, and `listed`
counts the violations shown. Then probes the schema's optional
`expectations` with a met and an unmet element (valid) and wrong shapes
(refused). Exits 1 on the first problem, naming the file and the JSON path.
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
    return consistent(path, report)


def consistent(path, report, quiet=False):
    """What the schema cannot say: the verdict is pass exactly when every
    invariant holds and every expectation (optional) is met; met is seen >=
    at_least; listed counts the violations shown. quiet: no message."""
    say = (lambda msg: None) if quiet else print
    holds = all(i["holds"] for i in report["invariants"])
    expectations = report.get("expectations", [])
    for i, x in enumerate(expectations):
        if x["met"] != (x["seen"] >= x["expect"]["at_least"]):
            say(f"{path}: expectations/{i}: met {x['met']} but seen {x['seen']}, "
                  f"at_least {x['expect']['at_least']}")
            return False
    met = all(x["met"] for x in expectations)
    if (report["verdict"] == "pass") != (holds and met):
        say(f"{path}: verdict {report['verdict']} disagrees with the invariants "
              f"and the expectations")
        return False
    for inv in report["invariants"]:
        shown = sum(1 for v in report["violations"] if v["invariant"] == inv["name"])
        if shown != inv["listed"] or inv["listed"] > inv["violations"]:
            say(f"{path}: {inv['name']}: listed {inv['listed']}, shown {shown}")
            return False
    return True


def probe_expectations(schema, path):
    """The samples' expectations may be empty: a met and an unmet one put
    into a copy of the first report must validate (verdict fail), and
    wrong shapes must not, so the schema's expectations part is tested."""
    with open(path, encoding="utf-8") as f:
        report = json.load(f)
    validator = jsonschema.Draft202012Validator(schema)
    good = [{"what": "count paid", "expect": {"count": "paid", "at_least": 1}, "seen": 3,
             "met": True},
            {"what": "gateway op=close status=409 detail~ORDERPAID",
             "expect": {"gateway": {"op": "close", "status": 409, "detail": "ORDERPAID"},
                        "at_least": 1, "why": "a close raced the payment"},
             "seen": 0, "met": False}]
    report["expectations"] = good
    report["verdict"] = "fail"
    for inv in report["invariants"]:
        inv["holds"], inv["violations"], inv["listed"] = True, 0, 0
    report["violations"] = []
    errors = list(validator.iter_errors(report))
    if errors or not consistent("probe", report):
        print(f"probe: a valid expectations array refused: {[e.message for e in errors]}")
        return False
    report["verdict"] = "pass"
    if consistent("probe", report, quiet=True):
        print("probe: verdict pass with an unmet expectation accepted")
        return False
    report["verdict"] = "fail"
    bad = [("met", "yes"), ("seen", -1), ("what", ""), ("expect", {"at_least": 1}),
           ("expect", {"count": "paid", "process": {"target": "sut", "action": "kill"},
                       "at_least": 1}),
           ("expect", {"count": "paid", "at_least": 0})]
    for key, value in bad:
        element = dict(good[0], **{key: value})
        report["expectations"] = [element]
        if validator.is_valid(report):
            print(f"probe: the schema accepted expectations[0].{key} = {value!r}")
            return False
    report["expectations"] = [{"what": "count paid", "seen": 3, "met": True}]
    if validator.is_valid(report):
        print("probe: the schema accepted an expectation without expect")
        return False
    del report["expectations"]
    if not validator.is_valid(report):
        print("probe: the schema requires expectations; it is optional")
        return False
    return True


def main(argv):
    if len(argv) < 3:
        print("usage: test_sim_check_schema.py SCHEMA REPORT...")
        return 2
    with open(argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    ok = all([check(schema, p) for p in argv[2:]]) and probe_expectations(schema, argv[2])
    print("ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
