/* report.html's script: draws the orders table and the per-order
 * timelines from the JSON block #rpt-data, on demand.
 *
 * Data strings go into the page with textContent or as attribute values
 * set through the DOM, never through innerHTML, so a hostile order id is
 * shown, not run. Data layout: docs/reports.md "Embedded data". */
(function () {
  'use strict';
  var PAGE = 50;
  var started = Date.now();
  var D = JSON.parse(document.getElementById('rpt-data').textContent);
  var S = D.S, O = D.o, BASE = D.base, LANES = D.lanes;
  /* S index of an out_trade_no -> its trade_no (D.tn: flat pairs of S indexes). */
  var TN = Object.create(null);
  for (var p = 0; p + 1 < D.tn.length; p += 2) TN[D.tn[p]] = S[D.tn[p + 1]];
  var SVGNS = 'http://www.w3.org/2000/svg';

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function sv(tag, attrs) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs) e.setAttribute(k, String(attrs[k]));
    return e;
  }
  function ref(i) { return i > 0 ? S[i - 1] : null; }      /* event fields: index + 1 */
  function sx(i) { return i >= 0 ? S[i] : ''; }            /* order fields: index */
  function secs(ms) { return (ms / 1000).toFixed(3) + ' s'; }
  /* A span for people: 850 ms, 12.345 s, 4 m 05.120 s, 26 h 03 m 12 s. */
  function dur(ms) {
    var neg = ms < 0 ? '-' : '';
    ms = Math.abs(ms);
    function two(n) { return (n < 10 ? '0' : '') + n; }
    if (ms < 1000) return neg + ms + ' ms';
    if (ms < 60000) return neg + secs(ms);
    var s = Math.floor(ms / 1000), m = Math.floor(s / 60), h = Math.floor(m / 60);
    if (ms < 3600000) return neg + m + ' m ' + two(s % 60) + '.' + String(ms % 1000 + 1000).slice(1) + ' s';
    return neg + h + ' h ' + two(m % 60) + ' m ' + two(s % 60) + ' s';
  }
  /* Minor units to a decimal amount: ISO 4217 exponents 0 and 3; 2 otherwise. */
  var EXP0 = ' BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF ';
  var EXP3 = ' BHD IQD JOD KWD LYD OMR TND ';
  function money(amount, cur) {
    var e = EXP0.indexOf(' ' + cur + ' ') >= 0 ? 0 : (EXP3.indexOf(' ' + cur + ' ') >= 0 ? 3 : 2);
    return (amount / Math.pow(10, e)).toFixed(e) + ' ' + cur;
  }

  /* Order k as an object. */
  function order(k) {
    var r = O[k];
    return { k: k, key: r[0], id: r[1], status: sx(r[2]), amount: r[3], currency: sx(r[4]),
      charges: r[5], callbacks: r[6], queries: r[7], notifications: r[8],
      faults: r[9].map(sx), violated: r[10].map(sx) };
  }

  /* A detail as the journal has it: its template's ~k, ~o and ~a are the
   * order's key, id and amount, ~t and ~g the event's out_trade_no and its
   * trade_no, ~~ is a ~; any other ~ stays (reports/rpt_detail.c writes
   * none). v maps each code letter to its value (null: ''). */
  function expand(tmpl, v) {
    if (tmpl === null || tmpl.indexOf('~') < 0) return tmpl;
    return tmpl.replace(/~([kotag~])/g, function (m, c) {
      var x = c === '~' ? '~' : v[c];
      return x === null || x === undefined ? '' : String(x);
    });
  }

  /* Events of order row r (null: the events of no order). An amount is
   * written as report.json has it: an integer, below 2^53 when it is a
   * template's ~a, so String() gives the same digits. */
  function decode(flat, delta, r) {
    var out = [], t = BASE;
    var v = { k: r ? r[0] : null, o: r ? r[1] : null, a: r ? r[3] : null, t: null, g: null };
    for (var i = 0; i + 4 < flat.length; i += 5) {
      t = delta ? t + flat[i] : BASE + flat[i];
      var kl = flat[i + 1], otn = ref(flat[i + 4]);
      v.t = otn;
      v.g = flat[i + 4] > 0 ? TN[flat[i + 4] - 1] : null;
      out.push({ t: t, lane: kl % 4, kind: S[Math.floor(kl / 4)],
        detail: expand(ref(flat[i + 2]), v), fault: ref(flat[i + 3]), otn: otn });
    }
    return out;
  }

  /* An order's events plus the order-less ones (process kill, restart)
   * that fall inside its span, in time order. */
  function eventsOf(k) {
    var ev = decode(O[k][11], true, O[k]);
    if (ev.length === 0) return ev;
    var lo = ev[0].t, hi = ev[ev.length - 1].t;
    decode(D.g, false, null).forEach(function (g) {
      if (g.t >= lo && g.t <= hi) { g.global = true; ev.push(g); }
    });
    ev.sort(function (a, b) { return a.t - b.t; });
    return ev;
  }

  function overview(ev) {
    var W = 1000, H = 76, x0 = 90, lo = ev[0].t, span = Math.max(1, ev[ev.length - 1].t - lo);
    var svg = sv('svg', { viewBox: '0 0 ' + W + ' ' + H, preserveAspectRatio: 'none', 'class': 'tl-svg' });
    var colors = ['#1d4ed8', '#7e22ce', '#b45309'];
    for (var l = 0; l < 3; l++) {
      var y = 14 + l * 22;
      svg.appendChild(sv('line', { x1: x0, y1: y, x2: W - 6, y2: y, 'class': 'rail' }));
      var label = sv('text', { x: 2, y: y + 4, 'class': 'lane' });
      label.textContent = LANES[l];
      svg.appendChild(label);
    }
    ev.forEach(function (e) {
      if (e.global) return;
      var x = x0 + (e.t - lo) / span * (W - x0 - 10), y = 14 + e.lane * 22;
      var m = sv('rect', { x: x - 2, y: y - 7, width: 4, height: 14,
        fill: e.fault ? '#d92d20' : colors[e.lane] });
      var tip = sv('title', {});
      tip.textContent = '+' + dur(e.t - BASE) + ' ' + e.kind + (e.detail ? ' ' + e.detail : '') +
        (e.fault ? ' [fault ' + e.fault + ']' : '');
      m.appendChild(tip);
      svg.appendChild(m);
    });
    return svg;
  }

  function evCell(e) {
    var c = el('div', 'ev l' + e.lane);
    c.appendChild(el('b', null, e.kind));
    if (e.detail) c.appendChild(el('span', null, e.detail));
    if (e.fault) c.appendChild(el('span', 'fault', 'fault: ' + e.fault));
    if (e.otn) c.appendChild(el('span', 'otn', e.otn));
    return c;
  }

  function eventRow(e, prev) {
    var tr = el('tr', e.fault ? 'f' : (e.global ? 'g' : null));
    var t = el('td', 't', '+' + dur(e.t - BASE));
    t.title = new Date(e.t).toISOString() + ' (simulated)';
    tr.appendChild(t);
    tr.appendChild(el('td', 'dt', prev === null ? '' : '+' + dur(e.t - prev)));
    if (e.global) {
      var g = el('td', 'ev', 'process: ' + e.kind + (e.detail ? ' ' + e.detail : ''));
      g.colSpan = 3;
      tr.appendChild(g);
      return tr;
    }
    for (var l = 0; l < 3; l++) {
      var td = el('td');
      if (l === e.lane) td.appendChild(evCell(e));
      tr.appendChild(td);
    }
    return tr;
  }

  function timeline(k) {
    var box = el('div', 'timeline');
    if (k < 0 || k >= O.length) {
      var g = decode(D.g, false, null);
      box.appendChild(el('div', 'muted', 'No order of the export matches this violation (a run-level one, ' +
        'or a trade with no order): ' + (g.length ? 'the run\'s events of no order follow.' : 'no timeline.')));
      if (g.length) box.appendChild(eventTable(g));
      return box;
    }
    var o = order(k), ev = eventsOf(k);
    var faults = ev.filter(function (e) { return e.fault; }).length;
    box.appendChild(el('div', 'tl-head', 'timeline of ' + o.id + ' (key ' + o.key + '), final status ' +
      o.status + ': ' + ev.length + ' events, ' + faults + ' with a fault' +
      (ev.length ? ', over ' + dur(ev[ev.length - 1].t - ev[0].t) : '')));
    if (ev.length === 0) { box.appendChild(el('div', 'muted', 'No journal event names this order.')); return box; }
    box.appendChild(overview(ev));
    box.appendChild(eventTable(ev));
    return box;
  }

  function eventTable(ev) {
    var tbl = el('table', 'tl'), head = el('tr');
    head.appendChild(el('th', 't', 'sim time'));
    head.appendChild(el('th', 'dt', 'since prev'));
    for (var l = 0; l < 3; l++) head.appendChild(el('th', 'l' + l, LANES[l]));
    tbl.appendChild(el('thead')).appendChild(head);
    var body = el('tbody'), prev = null;
    ev.forEach(function (e) { body.appendChild(eventRow(e, prev)); prev = e.t; });
    tbl.appendChild(body);
    return tbl;
  }

  /* Violations: the first is open and drawn now, the others when opened. */
  function violations() {
    var list = document.querySelectorAll('details.viol');
    Array.prototype.forEach.call(list, function (d) {
      var slot = d.querySelector('.tl');
      function draw() {
        if (!slot || slot.firstChild) return;
        slot.appendChild(timeline(parseInt(slot.getAttribute('data-order'), 10)));
      }
      if (d.open) draw();
      d.addEventListener('toggle', function () { if (d.open) draw(); });
    });
  }

  var state = { q: '', status: '', fault: '', viol: false, page: 0, rows: [] };

  function matches(k) {
    var r = O[k];
    if (state.viol && r[10].length === 0) return false;
    if (state.status && sx(r[2]) !== state.status) return false;
    if (state.fault && r[9].map(sx).indexOf(state.fault) < 0) return false;
    if (state.q) {
      var q = state.q.toLowerCase();
      if (String(r[0]).toLowerCase().indexOf(q) < 0 && String(r[1]).toLowerCase().indexOf(q) < 0) return false;
    }
    return true;
  }

  function orderRow(k) {
    var o = order(k), tr = el('tr', 'order' + (o.violated.length ? ' violated' : ''));
    tr.appendChild(el('td', 'id', o.id));
    tr.appendChild(el('td', null, o.key));
    tr.appendChild(el('td', null, o.status));
    tr.appendChild(el('td', 'num', money(o.amount, o.currency)));
    [o.charges, o.callbacks, o.queries, o.notifications].forEach(function (n) { tr.appendChild(el('td', 'num', n)); });
    var f = el('td');
    o.faults.forEach(function (name) { f.appendChild(el('span', 'fault', name)); });
    tr.appendChild(f);
    tr.appendChild(el('td', null, o.violated.join(', ')));
    tr.addEventListener('click', function () {
      var next = tr.nextSibling;
      if (next && next.className === 'tl-row') { next.parentNode.removeChild(next); return; }
      var row = el('tr', 'tl-row'), cell = el('td');
      cell.colSpan = 10;
      cell.appendChild(timeline(k));
      row.appendChild(cell);
      tr.parentNode.insertBefore(row, tr.nextSibling);
    });
    return tr;
  }

  function drawTable() {
    var body = document.getElementById('orders-body');
    while (body.firstChild) body.removeChild(body.firstChild);
    var pages = Math.max(1, Math.ceil(state.rows.length / PAGE));
    if (state.page >= pages) state.page = pages - 1;
    var from = state.page * PAGE, to = Math.min(state.rows.length, from + PAGE);
    for (var i = from; i < to; i++) body.appendChild(orderRow(state.rows[i]));
    document.getElementById('page').textContent = 'page ' + (state.page + 1) + ' of ' + pages;
    document.getElementById('o-count').textContent = state.rows.length + ' of ' + O.length + ' orders';
  }

  function refilter() {
    state.rows = [];
    for (var k = 0; k < O.length; k++) if (matches(k)) state.rows.push(k);
    state.page = 0;
    drawTable();
  }

  function fillSelect(id, values) {
    var s = document.getElementById(id);
    values.sort().forEach(function (v) { var o = el('option', null, v); o.value = v; s.appendChild(o); });
    return s;
  }

  function ordersTable() {
    var statuses = {}, faults = {};
    O.forEach(function (r) { statuses[sx(r[2])] = 1; r[9].forEach(function (f) { faults[sx(f)] = 1; }); });
    fillSelect('f-status', Object.keys(statuses)).addEventListener('change', function (e) { state.status = e.target.value; refilter(); });
    fillSelect('f-fault', Object.keys(faults)).addEventListener('change', function (e) { state.fault = e.target.value; refilter(); });
    document.getElementById('f-viol').addEventListener('change', function (e) { state.viol = e.target.checked; refilter(); });
    var timer = null;
    document.getElementById('q').addEventListener('input', function (e) {
      clearTimeout(timer);
      timer = setTimeout(function () { state.q = e.target.value.trim(); refilter(); }, 120);
    });
    document.getElementById('prev').addEventListener('click', function () { if (state.page > 0) { state.page--; drawTable(); } });
    document.getElementById('next').addEventListener('click', function () { state.page++; drawTable(); });
    refilter();
  }

  function copyReplay() {
    var b = document.getElementById('copy-replay');
    if (!b) return;
    b.addEventListener('click', function () {
      var text = document.getElementById('replay').textContent;
      var done = function () { b.textContent = 'copied'; };
      if (navigator.clipboard) navigator.clipboard.writeText(text).then(done, function () {});
      var range = document.createRange();
      range.selectNodeContents(document.getElementById('replay'));
      var sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
    });
  }

  try {
    violations();
    ordersTable();
    copyReplay();
    document.body.setAttribute('data-rendered', String(O.length));
    document.body.setAttribute('data-render-ms', String(Date.now() - started));
  } catch (err) {
    var box = el('div', null, 'report script failed: ' + err);
    box.id = 'render-error';
    document.body.insertBefore(box, document.body.firstChild);
    document.body.setAttribute('data-render-error', String(err));
  }
})();
