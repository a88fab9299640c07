// Driven by rpt_junit_npm.sh: node rpt_junit_npm.js NODE_MODULES WORK FAIL_ORDER
'use strict';
const fs = require('fs');
const path = require('path');
const [mods, W, failOrder] = process.argv.slice(2);
const { mergeFiles, mergeToString } = require(path.join(mods, 'junit-report-merger'));
const { create } = require(path.join(mods, 'xmlbuilder2'));

function check(cond, what) {
  if (!cond) { console.error('FAIL: ' + what); process.exit(1); }
  console.log('ok: ' + what);
}
function suites(xml) {
  const root = create(xml).root();
  const out = [];
  root.each((b) => { if (b.node.nodeName === 'testsuite') out.push(b.node); }, false, false);
  return { root: root.node, suites: out };
}
const attr = (node, name) => node.getAttribute(name);

(async () => {
  const runs = ['pass', 'fail', 'hostile'];
  const merged = path.join(W, 'jrm-merged.xml');
  await mergeFiles(merged, runs.map((r) => path.join(W, r, 'junit.xml')));
  const m = suites(fs.readFileSync(merged, 'utf8'));
  const expectTests = runs.map((r) => {
    const s = suites(fs.readFileSync(path.join(W, r, 'junit.xml'), 'utf8'));
    return Number(attr(s.root, 'tests'));
  }).reduce((a, b) => a + b, 0);
  check(m.suites.length === 3, 'junit-report-merger merged 3 testsuites');
  check(Number(attr(m.root, 'tests')) === expectTests, 'merged tests = ' + expectTests);
  check(Number(attr(m.root, 'failures')) >= 2, 'merged failures counted: ' + attr(m.root, 'failures'));

  const ours = suites(fs.readFileSync(path.join(W, 'out', 'junit.xml'), 'utf8'));
  check(ours.suites.length === 3, 'our merged junit.xml parses with 3 testsuites');
  check(Number(attr(ours.root, 'tests')) === expectTests, 'our merged total equals the merger\'s');

  const xml = fs.readFileSync(path.join(W, 'fail', 'junit.xml'), 'utf8');
  const failures = [];
  create(xml).root().each((b) => {
    if (b.node.nodeName === 'failure') failures.push(b.node);
  }, false, true);
  check(failures.length >= 1, 'failing run has failures');
  check(failures.some((f) => attr(f, 'message').includes(failOrder)),
    'a failure message names order ' + failOrder);
  check(failures.every((f) => f.textContent.includes('replay: ')), 'every failure text holds the replay command');

  const report = JSON.parse(fs.readFileSync(path.join(W, 'hostile', 'report.json'), 'utf8'));
  const hostile = suites(fs.readFileSync(path.join(W, 'hostile', 'junit.xml'), 'utf8'));
  check(attr(hostile.root, 'name') === report.scenario.name, 'hostile scenario name round-trips exactly');
  const hf = [];
  create(fs.readFileSync(path.join(W, 'hostile', 'junit.xml'), 'utf8')).root().each((b) => {
    if (b.node.nodeName === 'failure') hf.push(b.node);
  }, false, true);
  check(hf.length === 1 && attr(hf[0], 'message').includes(report.violations[0].order),
    'hostile order id round-trips in the failure message');

  // The consumer does fail on a file it cannot parse (it is lenient about
  // unclosed elements, which is why xmllint and the XSD are the strict gate).
  fs.writeFileSync(path.join(W, 'broken.xml'), '<testsuite name="x><testcase name="y"/></testsuite>');
  let threw = false;
  try { mergeToString([fs.readFileSync(path.join(W, 'broken.xml'), 'utf8')]); } catch (e) { threw = true; }
  check(threw, 'junit-report-merger rejects malformed XML');
})().catch((e) => { console.error('FAIL: ' + (e && e.stack || e)); process.exit(1); });
