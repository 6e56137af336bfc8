// The review page (README "Reviewing the results in a browser"). Opened from file://: the data
// come as script files that call LV_REVIEW_SUMMARY and LV_REVIEW_PAGE, never through fetch().
(function () {
  'use strict';

  var GRID_STEP = 120;          // cards drawn at a time ("show more" draws the next ones)
  var FILTERS = ['verdict', 'reason', 'label', 'suggestion', 'shard', 'decision'];
  var COLOURS = { correct: '#2e7d32', mislabeled: '#d32f2f', uncertain: '#f57c00', missing: '#c2185b' };

  var summary = null;
  var issues = [];              // every flagged box of the pages loaded so far, in input order
  var pagesLoaded = 0;
  var matching = [];            // the issues the filters let through, sorted
  var shown = GRID_STEP;
  var cursor = 0;               // position in `matching` of the current card
  var decisions = {};
  var storageKey = '';
  var viewerOpen = false;
  var lastRefresh = 0;

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  // --- Data -------------------------------------------------------------------------------

  window.LV_REVIEW_SUMMARY = function (s) {
    summary = s;
    storageKey = 'lv-review:' + s.run_id;
    try { decisions = JSON.parse(localStorage.getItem(storageKey) || '{}') || {}; } catch (e) { decisions = {}; }
  };

  window.LV_REVIEW_PAGE = function (number, images) {
    images.forEach(function (image) {
      var document_ = image.txt !== undefined;  // a document: its text's start, its label
      // A name that is not UTF-8 is escaped (\xHH); the flag keeps it apart from a name that
      // holds those characters.
      var name = (image.pe ? 'escaped:' : '') + image.p;
      image.b.forEach(function (b) {
        if (b.v === 'correct') return;
        issues.push({ id: name + (document_ ? '#doc' : '#b' + b.i), image: image, kind: document_ ? 'document' : 'box',
                      index: b.i, verdict: b.v, reason: b.r || '',
                      // An unlabeled document has no label to doubt: ranked last, as in issues.csv.
                      label: b.l || '', suggestion: b.s || '', confidence: b.c, score: b.v === 'unlabeled' ? 1 : b.lp,
                      shard: image.sh,
                      thumb: b.t, box: b.x, suggestedBox: b.sx || null });
      });
      image.m.forEach(function (m, k) {
        issues.push({ id: name + '#m' + k, image: image, kind: 'missing', index: k, verdict: 'missing',
                      reason: 'missing', label: '', suggestion: m.l || '', confidence: m.c, score: 1 - m.c,
                      shard: image.sh, thumb: m.t, box: m.x, suggestedBox: null });
      });
    });
    pagesLoaded = Math.max(pagesLoaded, number);
    // Filters, counts and the grid are redrawn for the first page, the last, and in between at
    // most once a second: redrawing after each of 200 pages made loading 100k images quadratic.
    var last = pagesLoaded >= summary.pages.length;
    var now = performance.now();
    if (number === 1 || last || now - lastRefresh > 1000) {
      lastRefresh = now;
      refresh(number === 1);
    } else {
      showStatus();
    }
    loadPage(number);  // the next one, in the background
  };

  function loadPage(index) {
    if (!summary || index >= summary.pages.length) { showStatus(); return; }
    var script = el('script', { src: summary.pages[index] });
    script.onerror = function () { $('status').textContent = 'cannot read ' + summary.pages[index]; };
    document.head.appendChild(script);
  }

  function documents() { return summary.kind === 'documents'; }
  function flaggedWord() { return documents() ? 'flagged documents' : 'flagged boxes'; }

  function showStatus() {
    var total = summary.pages.length;
    $('status').textContent = pagesLoaded < total
      ? 'loading: ' + pagesLoaded + ' of ' + total + ' data pages, ' + issues.length + ' ' + flaggedWord() + ' so far'
      : (documents() ? summary.flagged_boxes + ' flagged documents of ' + summary.images
                     : summary.flagged_boxes + ' flagged boxes in ' + summary.flagged_images + ' of ' + summary.images + ' images') +
        (summary.status === 'complete' ? '' : ' (report ' + summary.status + ')');
    $('status').setAttribute('data-loaded', pagesLoaded >= total ? 'all' : 'partial');
    // An export names every decided box with its record: only once every page is in.
    $('export').disabled = pagesLoaded < total;
  }

  // --- Overview tables ----------------------------------------------------------------------

  function drawOverview() {
    var body = $('summary').tBodies[0];
    Object.keys(summary.summary).forEach(function (key) {
      var value = summary.summary[key];
      if (typeof value === 'object') return;
      var row = el('tr');
      row.appendChild(el('td', null, key.replace(/_/g, ' ')));
      row.appendChild(el('td', { 'data-key': key }, value));
      body.appendChild(row);
    });
    var flagged = el('tr');
    flagged.appendChild(el('td', null, flaggedWord()));
    flagged.appendChild(el('td', { 'data-key': 'flagged_boxes' }, summary.flagged_boxes));
    body.appendChild(flagged);

    var classes = Object.keys(summary.per_class || {});
    var columns = [];
    classes.forEach(function (c) {
      Object.keys(summary.per_class[c]).forEach(function (k) {
        if (typeof summary.per_class[c][k] !== 'object' && columns.indexOf(k) < 0) columns.push(k);
      });
    });
    var head = el('tr');
    head.appendChild(el('th', null, 'class'));
    columns.forEach(function (k) { head.appendChild(el('th', null, k.replace(/_/g, ' '))); });
    $('per-class').tHead.appendChild(head);
    classes.forEach(function (c) {
      var row = el('tr', { 'data-class': c });
      row.appendChild(el('td', null, c));
      columns.forEach(function (k) {
        var v = summary.per_class[c][k];
        row.appendChild(el('td', { 'data-key': k }, v === undefined ? '' : (typeof v === 'number' && v % 1 ? v.toFixed(3) : v)));
      });
      $('per-class').tBodies[0].appendChild(row);
    });

    var labels = Object.keys(summary.confusion || {}).sort();
    var suggested = [];
    labels.forEach(function (l) {
      Object.keys(summary.confusion[l]).forEach(function (s) { if (suggested.indexOf(s) < 0) suggested.push(s); });
    });
    suggested.sort();
    var chead = el('tr');
    chead.appendChild(el('th', null, 'label \\ suggested'));
    suggested.forEach(function (s) { chead.appendChild(el('th', null, s || '(none)')); });
    $('confusion').tHead.appendChild(chead);
    labels.forEach(function (l) {
      var row = el('tr');
      row.appendChild(el('td', null, l));
      suggested.forEach(function (s) { row.appendChild(el('td', null, summary.confusion[l][s] || '')); });
      $('confusion').tBodies[0].appendChild(row);
    });
    if (!labels.length) $('confusion').hidden = true;
  }

  // --- Filters, sorting, the grid -------------------------------------------------------------

  function valueOf(issue, field) {
    if (field === 'decision') return decisions[issue.id] || 'undecided';
    var v = issue[field];
    return v === null || v === undefined ? '' : String(v);
  }

  function selectFor(field) { return document.querySelector('select[data-field="' + field + '"]'); }

  function fillFilters() {
    FILTERS.forEach(function (field) {
      var select = selectFor(field);
      var current = select.value || select.getAttribute('data-wanted') || '';
      var counts = {};
      issues.forEach(function (i) { var v = valueOf(i, field); counts[v] = (counts[v] || 0) + 1; });
      if (field === 'decision') ['undecided', 'accept', 'reject', 'skip'].forEach(function (d) { counts[d] = counts[d] || 0; });
      while (select.firstChild) select.removeChild(select.firstChild);
      select.appendChild(el('option', { value: '' }, 'all'));
      Object.keys(counts).sort().forEach(function (v) {
        select.appendChild(el('option', { value: v }, (v === '' ? '(none)' : v) + ' (' + counts[v] + ')'));
      });
      if (current && counts[current] === undefined) select.appendChild(el('option', { value: current }, current + ' (0)'));
      select.value = current;
    });
  }

  function applyFilters() {
    var wanted = {};
    FILTERS.forEach(function (f) { var v = selectFor(f).value; if (v) wanted[f] = v; });
    var currentId = matching[cursor] ? matching[cursor].id : null;
    matching = issues.filter(function (i) {
      return Object.keys(wanted).every(function (f) { return valueOf(i, f) === wanted[f]; });
    });
    var sort = $('sort').value;
    var byInput = function (a, b) { return a.image.n - b.image.n || (a.kind === b.kind ? a.index - b.index : (a.kind === 'box' ? -1 : 1)); };
    var order = {
      'score': function (a, b) { return a.score - b.score || byInput(a, b); },
      'confidence-desc': function (a, b) { return b.confidence - a.confidence || byInput(a, b); },
      'confidence-asc': function (a, b) { return a.confidence - b.confidence || byInput(a, b); },
      'input': byInput
    }[sort] || byInput;
    matching.sort(order);
    cursor = 0;
    if (currentId) matching.some(function (i, k) { if (i.id === currentId) { cursor = k; return true; } return false; });
    var hash = Object.keys(wanted).map(function (f) { return f + '=' + encodeURIComponent(wanted[f]); });
    if (sort !== 'score') hash.push('sort=' + sort);
    try { history.replaceState(null, '', hash.length ? '#' + hash.join('&') : location.pathname); } catch (e) { /* file:// in some browsers */ }
  }

  function thumbFor(issue) {
    if (issue.kind === 'document') return el('div', { 'class': 'thumb snippet' }, issue.image.txt);
    var box = el('div', { 'class': 'thumb' });
    if (issue.thumb) {
      box.appendChild(el('img', { src: issue.thumb, alt: issue.label + ' box ' + issue.index, loading: 'lazy' }));
      return box;
    }
    // No thumbnail (a worker that writes none): show the box's region of the full image.
    var image = issue.image;
    var src = image.img || image.dbg;
    if (!src || !image.w || !image.h || !issue.box || issue.box.length !== 4) return box;
    var w = issue.box[2] * image.w * 1.5, h = issue.box[3] * image.h * 1.5;
    var x = issue.box[0] * image.w - w / 2, y = issue.box[1] * image.h - h / 2;
    var scale = 160 / Math.max(w, h, 1);
    box.style.backgroundImage = 'url("' + src + '")';
    box.style.backgroundSize = (image.w * scale) + 'px ' + (image.h * scale) + 'px';
    box.style.backgroundPosition = (-x * scale) + 'px ' + (-y * scale) + 'px';
    return box;
  }

  function card(issue, position) {
    var c = el('div', { 'class': 'card ' + issue.verdict + (position === cursor ? ' current' : ''),
                        'data-id': issue.id, 'data-position': position });
    c.appendChild(thumbFor(issue));
    var what = issue.kind === 'missing'
      ? 'missing ' + issue.suggestion
      : (issue.label || '(no label)') + (issue.suggestion ? ' → ' + issue.suggestion : '');
    c.appendChild(el('div', { 'class': 'what' }, what));
    c.appendChild(el('div', { 'class': 'why' },
      issue.verdict + ', ' + issue.reason + ', confidence ' + Number(issue.confidence).toFixed(2) +
      (issue.kind !== 'missing' && issue.verdict !== 'unlabeled' ? ', p(label) ' + Number(issue.score).toFixed(2) : '')));
    var place = { box: ' #' + issue.index, missing: ' missing ' + issue.index, document: ' · line ' + issue.image.ln }[issue.kind];
    c.appendChild(el('div', { 'class': 'where' }, issue.image.p + place +
      (issue.shard !== null && issue.shard !== undefined ? ' · shard ' + issue.shard : '')));
    var d = decisions[issue.id];
    if (d) c.appendChild(el('span', { 'class': 'decision ' + d }, d));
    c.addEventListener('click', function () { cursor = position; drawGrid(); openViewer(); });
    return c;
  }

  // `follow`: the current card moved by a key, keep it in view.
  function drawGrid(follow) {
    var grid = $('grid');
    while (grid.firstChild) grid.removeChild(grid.firstChild);
    var end = Math.min(matching.length, Math.max(shown, cursor + 1));
    for (var k = 0; k < end; ++k) grid.appendChild(card(matching[k], k));
    $('more').hidden = end >= matching.length;
    $('matching').textContent = matching.length + ' of ' + issues.length + ' ' + flaggedWord() + ' match';
    $('matching').setAttribute('data-count', matching.length);
    var counts = { accept: 0, reject: 0, skip: 0 };
    Object.keys(decisions).forEach(function (id) { if (counts[decisions[id]] !== undefined) counts[decisions[id]]++; });
    $('decided').textContent = 'accepted ' + counts.accept + ', rejected ' + counts.reject + ', skipped ' + counts.skip;
    $('decided').setAttribute('data-accept', counts.accept);
    var current = grid.querySelector('.card.current');
    if (follow && current && current.scrollIntoView) current.scrollIntoView({ block: 'nearest' });
  }

  function refresh(first) {
    if (!summary) return;
    fillFilters();
    applyFilters();  // keeps the current card on the same box as pages arrive
    drawGrid();
    showStatus();
    // When the first screen stood and when everything was in (tools/bench_review reads them).
    if (first) document.body.setAttribute('data-first-screen-ms', Math.round(performance.now()));
    if (pagesLoaded >= summary.pages.length) document.body.setAttribute('data-all-loaded-ms', Math.round(performance.now()));
  }

  // --- Decisions ---------------------------------------------------------------------------

  function decide(decision) {
    var issue = matching[cursor];
    if (!issue) return;
    decisions[issue.id] = decision;
    try { localStorage.setItem(storageKey, JSON.stringify(decisions)); } catch (e) {
      $('status').textContent = 'cannot keep decisions in this browser: ' + e;
    }
    if (cursor + 1 < matching.length) cursor += 1;
    if (cursor >= shown) shown += GRID_STEP;
    drawGrid(true);
    if (viewerOpen) openViewer();
  }

  function exportDecisions() {
    var byId = {};
    issues.forEach(function (i) { byId[i.id] = i; });
    var out = { run_id: summary.run_id, report: summary.report, exported_at: new Date().toISOString(), decisions: [] };
    Object.keys(decisions).sort().forEach(function (id) {
      var i = byId[id];
      if (!i) { out.decisions.push({ id: id, decision: decisions[id] }); return; }
      out.decisions.push({ id: id, image: i.image.p, image_escaped: !!i.image.pe, kind: i.kind, box_index: i.kind === 'box' ? i.index : null,
                           line: i.kind === 'document' ? i.image.ln : null,
                           missing_index: i.kind === 'missing' ? i.index : null, decision: decisions[id],
                           verdict: i.verdict, reason: i.reason, label: i.label, suggestion: i.suggestion,
                           box: i.box, suggested_box: i.suggestedBox });
    });
    var text = JSON.stringify(out, null, 2);
    $('export-json').textContent = text;
    var link = el('a', { href: URL.createObjectURL(new Blob([text], { type: 'application/json' })), download: 'decisions.json' });
    document.body.appendChild(link);
    link.click();
    document.body.removeChild(link);
  }

  // --- The full image ------------------------------------------------------------------------

  function openViewer() {
    var issue = matching[cursor];
    if (!issue) return;
    var image = issue.image;
    var img = $('viewer-img');
    var text = issue.kind === 'document';
    img.hidden = text;
    $('viewer-boxes').style.display = text ? 'none' : '';
    if (!text) img.src = image.img || image.dbg || '';
    var svg = $('viewer-boxes');
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    svg.setAttribute('viewBox', '0 0 ' + (image.w || 1) + ' ' + (image.h || 1));
    var ns = 'http://www.w3.org/2000/svg';
    function rect(x, colour, dashed, label, current) {
      if (!x || x.length !== 4) return;
      var r = document.createElementNS(ns, 'rect');
      r.setAttribute('x', (x[0] - x[2] / 2) * image.w);
      r.setAttribute('y', (x[1] - x[3] / 2) * image.h);
      r.setAttribute('width', x[2] * image.w);
      r.setAttribute('height', x[3] * image.h);
      r.setAttribute('fill', 'none');
      r.setAttribute('stroke', colour);
      r.setAttribute('stroke-width', current ? 4 : 2);
      r.setAttribute('vector-effect', 'non-scaling-stroke');
      if (dashed) r.setAttribute('stroke-dasharray', '6 4');
      svg.appendChild(r);
      var t = document.createElementNS(ns, 'text');
      t.setAttribute('x', (x[0] - x[2] / 2) * image.w + 3);
      t.setAttribute('y', (x[1] - x[3] / 2) * image.h + 16);
      t.setAttribute('fill', colour);
      t.textContent = label;
      svg.appendChild(t);
    }
    var info = $('viewer-info');
    while (info.firstChild) info.removeChild(info.firstChild);
    info.appendChild(el('div', { 'class': 'what' }, image.p + ' — ' + image.v));
    if (text) info.appendChild(el('pre', { 'class': 'snippet' }, image.txt));
    var list = el('ol', { start: 0 });
    image.b.forEach(function (b) {
      var current = issue.kind === 'box' && issue.index === b.i;
      rect(b.x, COLOURS[b.v] || '#555', false, String(b.i), current);
      if (b.sx) rect(b.sx, COLOURS[b.v] || '#555', true, b.i + '→', false);
      list.appendChild(el('li', current ? { 'class': 'current' } : null,
        b.l + ': ' + b.v + (b.r ? ' (' + b.r + ')' : '') + (b.s ? ' → ' + b.s : '') + ', p(label) ' + Number(b.lp).toFixed(2)));
    });
    info.appendChild(list);
    image.m.forEach(function (m, k) {
      rect(m.x, COLOURS.missing, true, 'm' + k, issue.kind === 'missing' && issue.index === k);
      info.appendChild(el('div', null, 'm' + k + ': missing ' + m.l + ', confidence ' + Number(m.c).toFixed(2)));
    });
    var d = decisions[issue.id];
    info.appendChild(el('div', null, 'this box: ' + (d || 'undecided') + ' — a accept, r reject, s skip, j/k next/previous'));
    $('viewer').hidden = false;
    viewerOpen = true;
  }

  function closeViewer() { $('viewer').hidden = true; viewerOpen = false; }

  function onKey(e) {
    if (e.target && (e.target.tagName === 'SELECT' || e.target.tagName === 'INPUT')) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;  // Ctrl+R reloads, Ctrl+A selects: not decisions
    var key = e.key;
    if (key === 'j' || key === 'ArrowRight') { if (cursor + 1 < matching.length) cursor += 1; if (cursor >= shown) shown += GRID_STEP; }
    else if (key === 'k' || key === 'ArrowLeft') { if (cursor > 0) cursor -= 1; }
    else if (key === 'a') return decide('accept');
    else if (key === 'r') return decide('reject');
    else if (key === 's') return decide('skip');
    else if (key === 'Enter') return openViewer();
    else if (key === 'Escape') return closeViewer();
    else return;
    e.preventDefault();
    drawGrid(true);
    if (viewerOpen) openViewer();
  }

  // --- Start ---------------------------------------------------------------------------------

  function readHash() {
    location.hash.replace(/^#/, '').split('&').forEach(function (part) {
      var kv = part.split('=');
      if (kv.length !== 2) return;
      var value;
      try { value = decodeURIComponent(kv[1]); } catch (err) { return; }  // a malformed %: ignored
      if (kv[0] === 'sort') $('sort').value = value;
      else if (FILTERS.indexOf(kv[0]) >= 0) selectFor(kv[0]).setAttribute('data-wanted', value);
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    if (!summary) { $('status').textContent = 'data/summary.js is missing or could not be read'; return; }
    drawOverview();
    readHash();
    FILTERS.forEach(function (f) {
      selectFor(f).addEventListener('change', function () { shown = GRID_STEP; applyFilters(); drawGrid(); });
    });
    $('sort').addEventListener('change', function () { applyFilters(); drawGrid(); });
    $('more').addEventListener('click', function () { shown += GRID_STEP; drawGrid(); });
    $('export').addEventListener('click', exportDecisions);
    $('viewer-close').addEventListener('click', closeViewer);
    document.addEventListener('keydown', onKey);
    if (summary.pages.length) loadPage(0); else { refresh(true); }
  });
})();
