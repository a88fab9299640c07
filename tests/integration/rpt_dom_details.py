#!/usr/bin/env python3
"""Checks that the timeline Chromium drew shows each journal event's detail
exactly as journal.ndjson has it.

report.html carries details as templates (~k, ~o, ~a for the order's key,
id and amount, ~t, ~g for the event's out_trade_no and its trade_no, ~~
for a ~) that report.js expands; a broken expansion shows the codes or the
wrong value, and this fails.

Usage: rpt_dom_details.py DOM_HTML RUN_DIR [ORDER_ID]
ORDER_ID defaults to the order of report.json's first violation. Compares, as multisets, the (lane, kind, detail, out_trade_no) of every
event cell drawn in DOM_HTML (the first violation's timeline: the only one
drawn when the page loads) with the journal's events of the order whose
order_id is ORDER_ID (tied by key, then by order_id, as the writers do).
Prints the differences and exits 1 when they differ or nothing was drawn.
"""
import collections
import json
import os
import sys
from html.parser import HTMLParser

DETAIL_MAX_BYTES = 400  # RPT_DETAIL_MAX_BYTES: the writers cut longer details
OTN_MAX_BYTES = 128     # and out_trade_no at 128 bytes
LANES = {"business": 0, "sut": 1, "gateway": 2}


def cut(s, max_bytes):
    if s is None:
        return None
    b = s.encode("utf-8")
    if len(b) <= max_bytes:
        return s
    at = max_bytes - 3
    while at > 0 and (b[at] & 0xC0) == 0x80:
        at -= 1
    return b[:at].decode("utf-8") + "\u2026"


class Cells(HTMLParser):
    """Collects <div class="ev lN"> cells: lane, <b> kind, plain <span>
    detail, <span class="otn">."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.cells, self.cur, self.field, self.depth = [], None, None, 0

    def handle_starttag(self, tag, attrs):
        cls = dict(attrs).get("class") or ""
        if tag == "div" and cls.startswith("ev l"):
            self.cur = {"lane": int(cls[4:]), "kind": "", "detail": None, "otn": None}
            self.depth = 0
        elif self.cur is not None:
            self.depth += 1
            if tag == "b":
                self.field = "kind"
            elif tag == "span":
                self.field = {"": "detail", "otn": "otn"}.get(cls)
            if self.field and self.cur[self.field] is None:
                self.cur[self.field] = ""

    def handle_endtag(self, tag):
        if self.cur is None:
            return
        if self.depth == 0 and tag == "div":
            self.cells.append(self.cur)
            self.cur = None
        else:
            self.depth -= 1
            self.field = None

    def handle_data(self, data):
        if self.cur is not None and self.field:
            self.cur[self.field] += data


def journal_events(rep, run_dir, order_id):
    by_key = {o.get("key"): o for o in rep["orders"] if o.get("key") is not None}
    by_id = {o.get("order_id"): o for o in rep["orders"] if o.get("order_id") is not None}
    name = (rep.get("files") or {}).get("journal") or "journal.ndjson"
    out = []
    for line in open(os.path.join(run_dir, name), encoding="utf-8"):
        if not line.strip():
            continue
        e = json.loads(line)
        o = by_key.get(e.get("key")) or by_id.get(e.get("order_id"))
        if o is not None and o.get("order_id") == order_id:
            # report.js draws no detail for an empty one, as for null
            out.append((LANES[e["lane"]], e["kind"], cut(e.get("detail") or None, DETAIL_MAX_BYTES),
                        cut(e.get("out_trade_no"), OTN_MAX_BYTES)))
    return out


def main():
    dom, run_dir = sys.argv[1:3]
    rep = json.load(open(os.path.join(run_dir, "report.json"), encoding="utf-8"))
    order_id = sys.argv[3] if len(sys.argv) > 3 else rep["violations"][0]["order"]
    p = Cells()
    p.feed(open(dom, encoding="utf-8").read())
    shown = collections.Counter((c["lane"], c["kind"], c["detail"], c["otn"]) for c in p.cells)
    want = collections.Counter(journal_events(rep, run_dir, order_id))
    if not p.cells or shown != want:
        for k in sorted(set(shown) | set(want), key=repr):
            if shown[k] != want[k]:
                print("shown %d, journal %d: %r" % (shown[k], want[k], k))
        print("%d cells drawn, %d journal events" % (len(p.cells), sum(want.values())))
        return 1
    print("%d events: every detail shown as the journal has it" % len(p.cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
