#!/usr/bin/env python3
"""Proves docs/scenario.schema.json describes the scenario files paydrill ships.

Usage: test_scenario_schema.py SCHEMA SCENARIO... -- every scenario file
given must validate against the schema, and a few documents paydrill's own
parser refuses (tests/unit/test_sim_scenario.c has the full list) must be
refused by the schema too, so that it cannot drift into accepting
anything. Exits 1 naming the file and the JSON path of the first problem.
"""
import json
import sys

import jsonschema

# Documents paydrill refuses; the schema must refuse each as well.
REFUSED = [
    {"name": "x", "colour": 1},
    {"name": "x", "time_scale": 0},
    {"name": "x", "expect": {}},
    {"name": "x", "expect": [{}]},
    {"name": "x", "expect": [{"count": "paid", "process": {"target": "sut", "action": "kill"}}]},
    {"name": "x", "expect": [{"count": "money"}]},
    {"name": "x", "expect": [{"count": "paid", "at_least": 0}]},
    {"name": "x", "expect": [{"gateway": {"status": 409}}]},
    {"name": "x", "expect": [{"gateway": {"op": "close", "state": 1}}]},
    {"name": "x", "expect": [{"process": {"target": "db", "action": "kill"}}]},
    {"name": "x", "expect": [{"business": {"record": "orders"}}]},
    {"name": "x", "expect": [{"business": {"record": "pay_calls"}, "count": "paid"}]},
]


def main(argv):
    if len(argv) < 3:
        print("usage: test_scenario_schema.py SCHEMA SCENARIO...")
        return 2
    with open(argv[1], encoding="utf-8") as f:
        validator = jsonschema.Draft202012Validator(json.load(f))
    ok = True
    for path in argv[2:]:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.path)):
            where = "/".join(str(p) for p in e.path)
            print(f"{path}: {where or '(top)'}: {e.message}")
            ok = False
    for doc in REFUSED:
        if validator.is_valid(doc):
            print(f"the schema accepts {json.dumps(doc)}, which paydrill refuses")
            ok = False
    if ok:
        print(f"{len(argv) - 2} scenario files valid; {len(REFUSED)} refused documents refused")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
