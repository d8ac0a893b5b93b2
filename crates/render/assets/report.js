/* backtrail investigation report: draws the page from the JSON in the script element "data".
 *
 * Every value comes from the logs and is attacker-controlled, so the page is built with
 * createElement and text nodes only: nothing from the data is ever parsed as markup, put in
 * an attribute, or used as a URL, and control and bidirectional characters are shown as
 * visible \u{..} escapes, as the terminal renderer does. The page's CSP allows this script
 * by its hash and nothing else. */
(() => {
  'use strict';
  const SVGNS = 'http://www.w3.org/2000/svg';
  const HIDDEN = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
  const LIMIT = 160;
  const tables = [];
  let svgIds = 0;

  /** A log value as inert text: hidden and direction-changing characters made visible. */
  const inert = (v) => String(v).replace(HIDDEN, (c) => '\\u{' + c.charCodeAt(0).toString(16) + '}');
  const when = (s) => (s == null ? '—' : String(s).replace('T', ' '));
  const plural = (n, one, many) => n + ' ' + (n === 1 ? one : many || one + 's');
  const shortSource = (s) => String(s || '').replace(/\.amazonaws\.com$/, '');
  /** A hop's confidence as one of this script's class names (the analysis has only these). */
  const conf = (c) => (c === 'certain' || c === 'probable' ? c : 'unknown');

  function append(node, kids) {
    for (const k of kids) {
      if (k == null || k === false || k === '') continue;
      if (Array.isArray(k)) append(node, k);
      else if (k instanceof Node) node.appendChild(k);
      else node.appendChild(document.createTextNode(inert(k)));
    }
    return node;
  }
  /** An HTML element; `cls` is always one of this script's own class names. */
  function el(tag, cls, ...kids) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    return append(e, kids);
  }
  /** An SVG element; `attrs` hold numbers and this script's own names only, never data. */
  function svg(tag, attrs, ...kids) {
    const e = document.createElementNS(SVGNS, tag);
    for (const k of Object.keys(attrs || {})) e.setAttribute(k, String(attrs[k]));
    return append(e, kids);
  }
  function button(cls, onClick, ...kids) {
    const b = el('button', cls, ...kids);
    b.type = 'button';
    b.addEventListener('click', onClick);
    return b;
  }

  /** A value, cut to `limit` characters with a <details> that shows all of it. */
  function long(v, limit = LIMIT) {
    const s = inert(v == null ? '—' : v);
    if (s.length <= limit) return el('span', 'val', s);
    let cut = limit;
    if (/[\ud800-\udbff]/.test(s[cut - 1])) cut -= 1;
    return el('details', 'long',
      el('summary', null,
        el('span', 'pre', s.slice(0, cut) + '…'),
        el('span', 'more', ' (' + (s.length - cut) + ' more characters)'),
        el('span', 'less', 'show less')),
      el('div', 'full', s));
  }
  const json = (v) => (typeof v === 'string' ? v : JSON.stringify(v));
  function kv(label, ...value) {
    return el('div', 'kv', el('span', 'k', label), ' ', ...value);
  }
  function badge(cls, text) {
    return el('span', 'badge ' + cls, long(text, 40));
  }

  // ---- evidence viewer ------------------------------------------------------------------
  const data = JSON.parse(document.getElementById('data').textContent);
  const inv = data.investigation;
  const evidence = data.evidence || {};
  const dlgTitle = el('h2', null);
  dlgTitle.id = 'ev-title';
  const dlgMsg = el('p', 'ev-missing');
  const dlgPre = el('pre', 'ev-json');
  const dlg = el('dialog', 'evidence', el('div', 'dlg-head', dlgTitle,
    button('close', () => dlg.close(), 'Close')), dlgMsg, dlgPre);
  dlg.setAttribute('aria-labelledby', 'ev-title');
  dlg.addEventListener('click', (e) => { if (e.target === dlg) dlg.close(); });

  /** Raw event JSON indented without parsing it, so numbers and escapes stay as logged;
   * hidden characters as JSON escapes. Text that is no JSON object or array stays as it is. */
  function indentJson(raw) {
    const s = String(raw).replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
      (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
    if (!/^\s*[[{]/.test(s)) return s;
    let out = '';
    let depth = 0;
    let inStr = false;
    let esc = false;
    const nl = () => '\n' + '  '.repeat(depth);
    for (let i = 0; i < s.length; i++) {
      const c = s[i];
      if (inStr) {
        out += c;
        if (esc) esc = false;
        else if (c === '\\') esc = true;
        else if (c === '"') inStr = false;
      } else if (c === '"') {
        inStr = true;
        out += c;
      } else if (c === '{' || c === '[') {
        let j = i + 1;
        while (j < s.length && /\s/.test(s[j])) j++;
        if (s[j] === (c === '{' ? '}' : ']')) {
          out += c + s[j];
          i = j;
        } else {
          depth++;
          out += c + nl();
        }
      } else if (c === '}' || c === ']') {
        depth = Math.max(0, depth - 1);
        out += nl() + c;
      } else if (c === ',') out += c + nl();
      else if (c === ':') out += ': ';
      else if (!/\s/.test(c)) out += c;
    }
    return out;
  }

  function showEvent(id) {
    dlgTitle.textContent = '';
    append(dlgTitle, ['Event ', el('code', null, id)]);
    const has = Object.prototype.hasOwnProperty.call(evidence, id);
    dlgMsg.textContent = has ? '' : inert('not included in this report; run backtrail show ' + id);
    dlgMsg.hidden = has;
    dlgPre.textContent = has ? indentJson(evidence[id]) : '';
    dlgPre.hidden = !has;
    if (!dlg.open) dlg.showModal();
  }
  /** A button that opens the event; the label is the id's start, the dialog shows all. */
  function evButton(id) {
    const s = inert(id);
    return button('ev', () => showEvent(id), el('span', 'sr', 'event '), s.length > 12 ? s.slice(0, 8) + '…' : s);
  }
  const evButtons = (ids) => (ids || []).map((id) => [evButton(id), ' ']);

  // ---- sortable, filterable tables ------------------------------------------------------
  function cmp(a, b) {
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  /**
   * A table of `items`. Each column: key, label, value (what it sorts by), optional cell
   * (what it shows), search (what the filter matches) and num (numbers: sorted biggest first
   * on the first click, aligned right).
   */
  function sortable(kind, name, cols, items) {
    if (!items.length) return el('p', 'none', 'none');
    const ths = [];
    const tbody = el('tbody');
    const rows = items.map((it, i) => {
      const tr = el('tr');
      const text = [];
      for (const c of cols) {
        const v = c.value(it);
        tr.appendChild(el('td', c.num ? 'num' : c.cls, c.cell ? c.cell(it) : (v == null ? '—' : v)));
        text.push(inert(c.search ? c.search(it) : v == null ? '' : v));
      }
      tbody.appendChild(tr);
      return { tr, i, keys: cols.map((c) => c.value(it)), text: text.join('\u0001').toLowerCase() };
    });
    function sortBy(ci) {
      const cur = ths[ci].getAttribute('aria-sort');
      const dir = cur ? (cur === 'ascending' ? -1 : 1) : cols[ci].num ? -1 : 1;
      for (const th of ths) th.removeAttribute('aria-sort');
      ths[ci].setAttribute('aria-sort', dir > 0 ? 'ascending' : 'descending');
      rows.sort((a, b) => {
        const x = a.keys[ci];
        const y = b.keys[ci];
        if (x == null || y == null) return (x == null) - (y == null) || a.i - b.i;
        return cmp(x, y) * dir || a.i - b.i;
      });
      for (const r of rows) tbody.appendChild(r.tr);
    }
    const head = el('tr');
    cols.forEach((c, ci) => {
      const b = button('sort', () => sortBy(ci), c.label);
      b.dataset.key = c.key;
      const th = el('th', c.num ? 'num' : null, b);
      th.scope = 'col';
      ths.push(th);
      head.appendChild(th);
    });
    const count = el('span', 'count', plural(rows.length, 'row'));
    const input = el('input', 'filter');
    input.type = 'search';
    input.placeholder = 'filter';
    input.setAttribute('aria-label', 'filter ' + name);
    input.addEventListener('input', () => {
      const q = input.value.trim().toLowerCase();
      let n = 0;
      for (const r of rows) {
        r.tr.hidden = q !== '' && !r.text.includes(q);
        if (!r.tr.hidden) n++;
      }
      count.textContent = q ? n + ' of ' + rows.length + ' rows' : plural(rows.length, 'row');
    });
    const table = el('table', 'data ' + kind, el('thead', null, head), tbody);
    tables.push({ kind, table, input, count });
    return el('div', 'tbl', el('div', 'controls tbl-bar', input, count), el('div', 'scroll', table));
  }

  // ---- identity chain -------------------------------------------------------------------
  const MONO = 7.3; // px per character of the 12px monospace font, to place and cut labels

  /** SVG text cut to `max` characters; the whole value in a <title> when cut. */
  function fitText(attrs, v, max) {
    const s = inert(v == null ? '—' : v);
    if (s.length <= max) return svg('text', attrs, s);
    return svg('text', attrs, svg('title', {}, s), s.slice(0, max - 1) + '…');
  }
  function svgEvLink(id, x, y) {
    const s = inert(id);
    const label = s.length > 40 ? s.slice(0, 39) + '…' : s;
    const g = svg('g', { class: 'evlink', tabindex: 0, role: 'button' },
      svg('title', {}, 'show event ' + s),
      svg('rect', { x: x - 4, y: y - 13, width: label.length * MONO + 8, height: 18, rx: 4 }),
      svg('text', { x, y, class: 'mono' }, label));
    g.addEventListener('click', () => showEvent(id));
    g.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        showEvent(id);
      }
    });
    return g;
  }

  function chainNodes(sc) {
    const o = sc.origin || {};
    const hops = sc.chain || [];
    const nodes = [{
      cls: 'node origin' + (o.kind === 'Unknown' ? ' unknown' : ''),
      head: 'origin: ' + (o.kind || '?') + (o.account ? ' · account ' + o.account : ''),
      main: o.identifier,
      sub: o.provider ? 'provider ' + o.provider : '',
    }];
    hops.forEach((h, i) => {
      const last = i === hops.length - 1;
      nodes.push({
        cls: 'node' + (last ? ' subject' : '') + (conf(h.confidence) === 'certain' ? '' : ' ' + conf(h.confidence)),
        head: last ? 'this session' : 'session ' + (i + 1),
        main: h.issued_arn || h.issued_access_key_id || '(not named)',
        sub: [h.issued_access_key_id && 'key ' + h.issued_access_key_id,
          h.issued_creation_date && 'created ' + when(h.issued_creation_date)].filter(Boolean).join(' · '),
      });
    });
    if (!hops.length) {
      if (sc.arn && sc.arn !== o.identifier) {
        nodes.push({ cls: 'node subject', head: 'this session', main: sc.arn, sub: sessionSub(sc) });
      } else {
        nodes[0].cls += ' subject';
        nodes[0].head += ' = this session';
        nodes[0].sub = [nodes[0].sub, sessionSub(sc)].filter(Boolean).join(' · ');
      }
    }
    return nodes;
  }
  function sessionSub(sc) {
    const keys = sc.access_key_ids || [];
    return [keys.length && 'key ' + keys[0] + (keys.length > 1 ? ' +' + (keys.length - 1) : ''),
      sc.creation_date && 'created ' + when(sc.creation_date)].filter(Boolean).join(' · ');
  }

  /** The chain from the origin (top) to the session (bottom): boxes for principals,
   * arrows for hops, labelled with method, time, confidence and the evidence event. */
  function chainGraph(sc) {
    const nodes = chainNodes(sc);
    const hops = sc.chain || [];
    const W = 920;
    const NH = 64;
    const GAP = 66;
    const H = nodes.length * NH + (nodes.length - 1) * GAP + 4;
    const root = svg('svg', { class: 'chain', viewBox: '0 0 ' + W + ' ' + H, width: W, height: H, role: 'img' });
    const id = 'chain-title-' + ++svgIds;
    root.setAttribute('aria-labelledby', id);
    const title = svg('title', {}, 'identity chain: ' + plural(hops.length, 'hop') + ' from the origin to the session');
    title.id = id;
    root.appendChild(title);
    nodes.forEach((n, i) => {
      const y = 2 + i * (NH + GAP);
      if (i > 0) {
        const h = hops[i - 1];
        const top = y - GAP;
        const c = h ? conf(h.confidence) : 'none';
        const x = 44;
        const edge = svg('g', { class: 'edge ' + c },
          svg('line', { x1: x, y1: top + 2, x2: x, y2: y - 8 }),
          svg('path', { d: 'M' + (x - 6) + ' ' + (y - 12) + ' L' + x + ' ' + (y - 2) + ' L' + (x + 6) + ' ' + (y - 12) + ' Z' }));
        if (h) {
          const mark = { certain: '✓ certain', probable: '~ probable', unknown: '? unknown' }[c];
          edge.appendChild(fitText({ x: x + 22, y: top + 25, class: 'em' },
            (h.method || '?') + (h.time == null ? '' : ' · ' + when(h.time)), 100));
          edge.appendChild(svg('text', { x: x + 22, y: top + 47, class: 'conf' }, mark));
          if (h.event_id != null) edge.appendChild(svgEvLink(h.event_id, x + 132, top + 47));
          else edge.appendChild(svg('text', { x: x + 132, y: top + 47, class: 'muted' }, 'no single record: see the candidates'));
          const others = (h.other_event_ids || []).length;
          if (others && h.event_id != null) {
            edge.appendChild(svg('text', { x: x + 132 + 42 * MONO, y: top + 47, class: 'muted' },
              '+' + plural(others, 'other copy', 'other copies')));
          }
        } else {
          edge.appendChild(svg('text', { x: x + 22, y: top + 38, class: 'muted' }, 'no issuing record in the data'));
        }
        root.appendChild(edge);
      }
      root.appendChild(svg('g', { class: n.cls },
        svg('rect', { x: 2, y, width: W - 4, height: NH, rx: 8 }),
        fitText({ x: 16, y: y + 19, class: 'nh' }, n.head, 110),
        fitText({ x: 16, y: y + 38, class: 'mono nm' }, n.main, 120),
        fitText({ x: 16, y: y + 56, class: 'ns' }, n.sub, 120)));
    });
    return el('div', 'graph', root);
  }

  function dl(pairs) {
    const d = el('dl', 'facts');
    for (const [k, v] of pairs) {
      if (v == null || v === '' || (Array.isArray(v) && !v.length)) continue;
      append(d, [el('dt', null, k), el('dd', null, v instanceof Node || Array.isArray(v) ? v : long(v))]);
    }
    return d;
  }

  function hopItem(h, i) {
    const c = h.caller || {};
    const cands = h.candidates || [];
    const li = el('li', 'hop ' + conf(h.confidence),
      el('div', 'hop-head',
        el('span', 'hn', 'hop ' + (i + 1)), ' ', el('strong', null, h.method), ' ', when(h.time), ' ',
        badge(conf(h.confidence), h.confidence), ' ',
        h.event_id != null ? evButton(h.event_id) : el('span', 'muted', 'no single record'),
        (h.other_event_ids || []).length ? [' copies: ', evButtons(h.other_event_ids)] : null),
      el('p', 'reason', long(h.reason, 400)));
    const facts = el('details', 'facts', el('summary', null, 'caller, source and issued credentials'), dl([
        ['caller', [c.type || '?', ' ', long(c.arn || c.principal_id || c.invoked_by || '—')]],
        ['caller account', c.account], ['caller key', c.access_key_id],
        ['caller principal id', c.principal_id], ['caller user name', c.user_name],
        ['invoked by', c.invoked_by], ['caller session created', c.session_creation_date && when(c.session_creation_date)],
        ['source IP', h.source_ip], ['user agent', h.user_agent],
        ['issued key', h.issued_access_key_id], ['issued ARN', h.issued_arn],
        ['issued session created', h.issued_creation_date && when(h.issued_creation_date)],
      ]));
    facts.open = h.confidence !== 'certain';
    li.appendChild(facts);
    if (cands.length) {
      const t = el('table', 'data cands', el('thead', null, el('tr', null,
        ['event', 'method', 'time', 'issued key', 'issued ARN', 'caller', 'why'].map((x) => el('th', null, x)))));
      const tb = el('tbody');
      for (const k of cands) {
        tb.appendChild(el('tr', null, el('td', null, evButton(k.event_id)), el('td', null, k.method),
          el('td', 'time', when(k.time)), el('td', 'brk', long(k.issued_access_key_id)),
          el('td', 'brk', long(k.issued_arn)), el('td', 'brk', long(k.caller_arn)),
          el('td', 'why', long(k.why_rejected_or_open))));
      }
      t.appendChild(tb);
      const d = el('details', 'cands', el('summary', null, plural(cands.length, 'candidate') + ' considered'), el('div', 'scroll', t));
      d.open = h.confidence !== 'certain';
      li.appendChild(d);
    }
    return li;
  }

  function chainCard(sc, i, n) {
    const o = sc.origin || {};
    const card = el('article', 'card chain-card',
      el('h3', null, n > 1 ? 'Session ' + (i + 1) + ' of ' + n + ': ' : 'Session: ', el('code', null, long(sc.arn || (sc.access_key_ids || [])[0] || '—', 120))),
      dl([
        ['keys', (sc.access_key_ids || []).join(', ')], ['type', sc.identity_type], ['account', sc.account],
        ['created', sc.creation_date && when(sc.creation_date)],
        ['seen', sc.first_seen ? when(sc.first_seen) + ' .. ' + when(sc.last_seen) : 'no call in the data'],
        ['calls', String(sc.events)], ['console', sc.from_console ? 'yes' : null],
        ['used the finding\'s IP', sc.used_hint_ip == null ? null : sc.used_hint_ip ? 'yes' : 'no'],
        ['invoked by', (sc.invoked_by || []).join(', ')],
        ['asserted sourceIdentity', sc.asserted_source_identity],
      ]),
      chainGraph(sc));
    if ((o.evidence_event_ids || []).length) card.appendChild(el('p', null, 'Origin evidence: ', evButtons(o.evidence_event_ids)));
    if ((sc.notes || []).length) card.appendChild(el('ul', 'notes', sc.notes.map((x) => el('li', null, long(x, 400)))));
    const ca = sc.continue_at;
    if (ca) {
      card.appendChild(el('div', 'continue',
        el('strong', null, 'The chain leaves the data. '),
        'To go further, ingest the trail of account ', el('code', null, ca.account || '?'),
        ca.window_start || ca.window_end ? [' from ', when(ca.window_start), ' to ', when(ca.window_end)] : null,
        ' and look for ', el('code', null, (ca.look_for || []).join(', ') || '?'),
        ' by ', el('code', null, long(ca.principal, 120)), ': ', long(ca.why, 400)));
    }
    const hops = sc.chain || [];
    if (hops.length) card.appendChild(el('ol', 'hops', hops.map(hopItem)));
    return card;
  }

  // ---- timeline -------------------------------------------------------------------------
  /** Calls per minute as bars (binned to at most 240 bars), errors in red at the foot of
   * each bar, minutes with sensitive calls marked above it. */
  function timeline(minutes) {
    const pts = (minutes || []).map((m) => ({ t: Date.parse(m.minute), c: m.calls || 0, e: m.errors || 0, s: m.sensitive || 0 }))
      .filter((p) => Number.isFinite(p.t));
    if (!pts.length) return el('p', 'none', 'no calls in the timeline');
    const t0 = pts.reduce((m, p) => Math.min(m, p.t), Infinity);
    const t1 = pts.reduce((m, p) => Math.max(m, p.t), -Infinity) + 60000;
    const nb = Math.max(1, Math.min(240, Math.round((t1 - t0) / 60000)));
    const bw = (t1 - t0) / nb;
    const bins = Array.from({ length: nb }, () => ({ c: 0, e: 0, s: 0 }));
    for (const p of pts) {
      const b = bins[Math.min(nb - 1, Math.floor((p.t - t0) / bw))];
      b.c += p.c;
      b.e += p.e;
      b.s += p.s;
    }
    const max = bins.reduce((m, b) => Math.max(m, b.c), 1);
    const W = 960;
    const H = 150;
    const L = 44;
    const T = 16;
    const B = 24;
    const ph = H - T - B;
    const step = (W - L - 8) / nb;
    const iso = (t) => new Date(t).toISOString().replace('T', ' ').replace(/:00\.000Z$/, 'Z');
    const root = svg('svg', { class: 'timeline', viewBox: '0 0 ' + W + ' ' + H, width: W, height: H, role: 'img' });
    const id = 'tl-title-' + ++svgIds;
    root.setAttribute('aria-labelledby', id);
    const title = svg('title', {}, 'calls per ' + (bw > 60000 ? Math.round(bw / 60000) + ' minutes' : 'minute') + ', ' + iso(t0) + ' to ' + iso(t1));
    title.id = id;
    root.appendChild(title);
    root.appendChild(svg('line', { class: 'axis', x1: L, y1: T + ph, x2: W - 4, y2: T + ph }));
    root.appendChild(svg('text', { class: 'tick', x: L - 6, y: T + 4, 'text-anchor': 'end' }, String(max)));
    root.appendChild(svg('text', { class: 'tick', x: L - 6, y: T + ph, 'text-anchor': 'end' }, '0'));
    root.appendChild(svg('text', { class: 'tick', x: L, y: H - 6 }, iso(t0)));
    root.appendChild(svg('text', { class: 'tick', x: W - 4, y: H - 6, 'text-anchor': 'end' }, iso(t1)));
    bins.forEach((b, i) => {
      if (!b.c && !b.e && !b.s) return;
      const x = L + i * step + 0.5;
      const w = Math.max(1, step - 1);
      const h = Math.max(1.5, (b.c / max) * ph);
      const he = b.e ? Math.max(1.5, (Math.min(b.e, b.c || b.e) / max) * ph) : 0;
      const from = iso(t0 + i * bw);
      const g = svg('g', { class: 'bin' },
        svg('title', {}, from + ': ' + plural(b.c, 'call') + ', ' + plural(b.e, 'error') + ', ' + b.s + ' sensitive'),
        svg('rect', { class: 'calls', x, y: T + ph - h, width: w, height: h }));
      if (he) g.appendChild(svg('rect', { class: 'errors', x, y: T + ph - he, width: w, height: he }));
      if (b.s) {
        const cx = x + w / 2;
        const top = T + ph - h - 3;
        g.appendChild(svg('path', { class: 'sens', d: 'M' + (cx - 4) + ' ' + (top - 7) + ' L' + (cx + 4) + ' ' + (top - 7) + ' L' + cx + ' ' + top + ' Z' }));
      }
      root.appendChild(g);
    });
    return el('div', 'graph',
      root,
      el('p', 'legend', el('span', 'sw calls'), ' calls ', el('span', 'sw errors'), ' errors ',
        el('span', 'sw sens'), ' sensitive calls in that ' + (bw > 60000 ? 'interval' : 'minute')));
  }

  // ---- activity and origins -------------------------------------------------------------
  function rowDetails(r) {
    const parts = [];
    if (r.sensitive_reason) parts.push(kv('why sensitive', long(r.sensitive_reason)));
    if (r.read_only_basis === 'unknown') parts.push(kv('read-only', 'unknown: no record said and no rule matched'));
    if ((r.targets || []).length) {
      const more = (r.distinct_targets || 0) - r.targets.length;
      parts.push(kv('targets', r.targets.map((t) => [long(t.value, 100), ' ×' + t.count, ' ']),
        more > 0 ? '+' + more + ' more' : null));
    }
    if (r.uncounted_target_calls) parts.push(kv('uncounted', plural(r.uncounted_target_calls, 'call') + ' to targets beyond the count'));
    for (const d of r.denied_resources || []) {
      const what = d.resource != null ? [d.action || '?', ' on ', long(d.resource, 100)] : d.encoded ? 'encoded message, no resource' : d.action || '?';
      parts.push(kv('denied', what, d.reason ? [' (', long(d.reason, 100), ')'] : null, ' ×' + d.count));
    }
    for (const p of r.sample_request_parameters || []) parts.push(kv('parameters', el('code', null, long(json(p)))));
    for (const f of r.filters || []) parts.push(kv('filters', el('code', null, long(json(f)))));
    if ((r.sample_resources || []).length) parts.push(kv('resources', r.sample_resources.map((x) => [long(x, 100), ' '])));
    if (r.sample_error_message != null) parts.push(kv('error', long(r.sample_error_message)));
    return parts;
  }
  function rowSearch(r) {
    return [r.sensitive_reason, ...(r.targets || []).map((t) => t.value),
      ...(r.denied_resources || []).map((d) => [d.action, d.resource, d.reason].join(' ')),
      ...(r.sample_request_parameters || []).map(json), ...(r.filters || []).map(json),
      ...(r.sample_resources || []), r.sample_error_message].filter((x) => x != null).join(' ');
  }
  function codes(map) {
    const e = Object.entries(map || {});
    return e.length ? el('div', 'codes', e.map(([k, n]) => el('div', null, long(k, 60), ' ×' + n))) : null;
  }
  function activityTable(name, a, idx) {
    const items = (idx || []).map((i) => a.rows[i]).filter(Boolean);
    return sortable('activity', name, [
      { key: 'api', label: 'API', value: (r) => r.event_name,
        cell: (r) => [el('div', 'api', long(r.event_name, 80)), el('div', 'src', long(shortSource(r.event_source), 80)),
          r.tactic ? badge('tactic', r.tactic) : null],
        search: (r) => r.event_name + ' ' + r.event_source + ' ' + (r.tactic || '') },
      { key: 'calls', label: 'calls', num: true, value: (r) => r.occurrences },
      { key: 'failed', label: 'failed', num: true, value: (r) => r.failures,
        cell: (r) => [String(r.failures), codes(r.error_codes)],
        search: (r) => r.failures + ' ' + Object.keys(r.error_codes || {}).join(' ') },
      { key: 'first', label: 'first', value: (r) => r.first_seen, cell: (r) => when(r.first_seen), cls: 'time' },
      { key: 'last', label: 'last', value: (r) => r.last_seen, cell: (r) => when(r.last_seen), cls: 'time' },
      { key: 'regions', label: 'regions', value: (r) => (r.regions || []).join(', '), cell: (r) => long((r.regions || []).join(', '), 60) },
      { key: 'details', label: 'details', value: rowSearch, cell: rowDetails, cls: 'wide' },
      { key: 'events', label: 'sample events', value: (r) => (r.sample_event_ids || []).join(' '),
        cell: (r) => evButtons(r.sample_event_ids), cls: 'evs' },
    ], items);
  }
  const ALARM = new Set(['attack_tool_user_agent', 'logging_tampering', 'persistence', 'caller_chosen_source_ip',
    'instance_credentials_outside', 'bulk_data_access']);
  function origins(o, name) {
    const ips = sortable('sources', 'source addresses of ' + name, [
      { key: 'ip', label: 'address', value: (s) => s.source_ip,
        cell: (s) => [el('div', 'mono', long(s.source_ip, 80)), badge('class', s.class + (s.range ? ' · ' + s.range : ''))],
        search: (s) => s.source_ip + ' ' + s.class + ' ' + (s.range || '') },
      { key: 'calls', label: 'calls', num: true, value: (s) => s.count },
      { key: 'first', label: 'first', value: (s) => s.first_seen, cell: (s) => when(s.first_seen), cls: 'time' },
      { key: 'last', label: 'last', value: (s) => s.last_seen, cell: (s) => when(s.last_seen), cls: 'time' },
      { key: 'uas', label: 'user agents', value: (s) => (s.user_agents || []).map((u) => u.value).join(' '),
        cell: (s) => (s.user_agents || []).map((u) => el('div', null, long(u.value, 100), ' ×' + u.count)), cls: 'wide' },
      { key: 'regions', label: 'regions', value: (s) => (s.regions || []).join(', ') },
      { key: 'vpce', label: 'VPC endpoints', value: (s) => (s.vpc_endpoints || []).join(', ') },
      { key: 'geo', label: 'network', value: (s) => (s.geo ? [s.geo.country, s.geo.asn != null ? 'AS' + s.geo.asn : null, s.geo.as_org].filter((x) => x != null).join(' ') : null) },
    ], o.source_ips || []);
    const uas = sortable('agents', 'user agents of ' + name, [
      { key: 'ua', label: 'user agent', value: (u) => u.user_agent, cell: (u) => long(u.user_agent, 120), cls: 'wide' },
      { key: 'kind', label: 'kind', value: (u) => u.kind, cell: (u) => badge(u.kind === 'attack_tool' || u.kind === 'http_client' ? 'alarm' : 'plain', u.kind) },
      { key: 'name', label: 'software', value: (u) => u.name },
      { key: 'calls', label: 'calls', num: true, value: (u) => u.count },
      { key: 'first', label: 'first', value: (u) => u.first_seen, cell: (u) => when(u.first_seen), cls: 'time' },
      { key: 'last', label: 'last', value: (u) => u.last_seen, cell: (u) => when(u.last_seen), cls: 'time' },
    ], o.user_agents || []);
    const flags = sortable('flags', 'flags of ' + name, [
      { key: 'flag', label: 'flag', value: (f) => f.kind, cell: (f) => badge(ALARM.has(f.kind) ? 'alarm' : 'plain', String(f.kind).replace(/_/g, ' ')) },
      { key: 'detail', label: 'what was seen', value: (f) => f.detail, cell: (f) => long(f.detail, 240), cls: 'wide' },
      { key: 'calls', label: 'calls', num: true, value: (f) => f.count },
      { key: 'evidence', label: 'evidence', value: (f) => (f.evidence_event_ids || []).join(' '), cell: (f) => evButtons(f.evidence_event_ids), cls: 'evs' },
    ], o.flags || []);
    return [el('h4', null, 'Flags'), flags, el('h4', null, 'Source addresses'), ips, el('h4', null, 'User agents'), uas];
  }

  function bodySection(b, name) {
    const a = b.activity || { rows: [], sections: {}, totals: {}, timeline: [] };
    const t = a.totals || {};
    const s = a.sections || {};
    return [
      el('p', 'totals', plural(t.events || 0, 'call'), ', ', String(t.successes || 0), ' succeeded, ',
        el('span', t.failures ? 'bad' : null, String(t.failures || 0) + ' failed'), ', ', plural((a.rows || []).length, 'API')),
      el('h4', null, 'Timeline'), timeline(a.timeline),
      el('h4', null, 'Changing calls (' + (s.changing || []).length + ')'), activityTable('changing calls of ' + name, a, s.changing),
      el('h4', null, 'Sensitive read-only calls (' + (s.sensitive_read_only || []).length + ')'),
      activityTable('sensitive read-only calls of ' + name, a, s.sensitive_read_only),
      el('h4', null, 'Other read-only calls (' + (s.other_read_only || []).length + ')'),
      activityTable('other read-only calls of ' + name, a, s.other_read_only),
      origins(b.origins || {}, name),
    ];
  }

  // ---- page -----------------------------------------------------------------------------
  const PATH_ALARM = new Set(['access_denied_burst', 'data_access', 'exfiltration', 'cross_account']);
  function pathFacts() {
    const facts = inv.path_flags || [];
    const cuts = (inv.forward && inv.forward.cut) || [];
    if (!facts.length && !cuts.length) return null;
    const items = facts.map((f) => el('li', null, badge(PATH_ALARM.has(f.kind) ? 'alarm' : 'plain', String(f.kind).replace(/_/g, ' ')),
      ' ', long(f.detail, 600), ' ', evButtons(f.evidence_event_ids)));
    for (const c of cuts) items.push(el('li', null, badge('probable', 'forward walk cut'), ' ', long(c, 300)));
    return [el('h3', null, 'Facts about the whole path'), el('ul', 'pathfacts', items)];
  }
  function summary(who, sessions) {
    const c = (inv.combined && inv.combined.activity && inv.combined.activity.totals) || {};
    const flags = (inv.combined && inv.combined.origins && inv.combined.origins.flags) || [];
    const chains = (who.sessions || []).map((sc) => {
      const o = sc.origin || {};
      const confs = (sc.chain || []).map((h) => h.confidence);
      const weak = confs.filter((x) => x !== 'certain').length;
      return el('li', null, badge('plain', o.kind || '?'), ' ', el('code', null, long(o.identifier, 200)), ' → ',
        plural(confs.length, 'hop'), weak ? [' (', badge(confs.includes('unknown') ? 'unknown' : 'probable', plural(weak, 'uncertain hop')), ')'] : null,
        ' → ', el('code', null, long(sc.arn || (sc.access_key_ids || [])[0] || '—', 100)));
    });
    return el('section', 'card summary',
      el('h2', null, 'At a glance'),
      el('div', 'stats',
        el('div', null, el('b', null, String(sessions.length)), sessions.length === 1 ? ' session' : ' sessions'),
        el('div', null, el('b', null, String(c.events || 0)), ' calls'),
        el('div', null, el('b', c.failures ? 'bad' : null, String(c.failures || 0)), ' failed'),
        el('div', null, el('b', null, String(flags.length)), ' flags')),
      chains.length ? [el('h3', null, 'Origins'), el('ul', 'origins', chains)] : el('p', 'none', 'no session matched the subject'),
      flags.length ? el('p', 'flaglist', flags.map((f) => [badge(ALARM.has(f.kind) ? 'alarm' : 'plain', String(f.kind).replace(/_/g, ' ')), ' '])) : null,
      pathFacts(),
      (who.notes || []).length ? el('ul', 'notes', who.notes.map((x) => el('li', null, long(x, 400)))) : null);
  }

  function controls() {
    const root = document.documentElement;
    const dark = () => (root.dataset.theme || (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light')) === 'dark';
    const theme = button('theme', () => {
      root.dataset.theme = dark() ? 'light' : 'dark';
      theme.textContent = dark() ? 'Light theme' : 'Dark theme';
    }, dark() ? 'Light theme' : 'Dark theme');
    let expanded = false;
    const expand = button('expand', () => {
      expanded = !expanded;
      for (const d of document.querySelectorAll('main details')) d.open = expanded;
      expand.textContent = expanded ? 'Collapse all' : 'Expand all';
    }, 'Expand all');
    return [expand, theme, button('print', () => window.print(), 'Print')];
  }

  // Printing shows everything: open every <details>, and close again those that were closed.
  let closedForPrint = [];
  window.addEventListener('beforeprint', () => {
    closedForPrint = [...document.querySelectorAll('details:not([open])')];
    for (const d of closedForPrint) d.open = true;
  });
  window.addEventListener('afterprint', () => {
    for (const d of closedForPrint) d.open = false;
    closedForPrint = [];
  });

  function draw() {
    const who = inv.who || {};
    const sessions = inv.sessions || [];
    const app = document.getElementById('app');
    const toc = el('nav', 'toc');
    const add = (href, label) => {
      const a = el('a', null, label);
      a.href = href;
      toc.appendChild(a);
    };
    add('#s-who', 'Identity chain');
    const whoSec = el('section', 'who', el('h2', null, 'Identity chain'),
      (who.sessions || []).length ? who.sessions.map((sc, i) => chainCard(sc, i, who.sessions.length)) : el('p', 'none', 'no session matched the subject'));
    whoSec.id = 's-who';
    const secs = sessions.map((s, i) => {
      const label = 'Session ' + (i + 1) + (s.role === 'subject' ? ' (subject)' : s.role === 'chain' ? ' (on the chain)' : s.role === 'spawned' ? ' (spawned)' : '');
      const by = s.spawned_by;
      add('#s-' + i, label);
      const sec = el('section', 'session ' + (s.role === 'subject' ? 'subject' : 'chain'),
        el('h2', null, label, ': ', el('code', null, long(s.arn || (s.access_key_ids || [])[0] || '—', 120))),
        dl([['role', s.role], ['created', s.creation_date && when(s.creation_date)], ['keys', (s.access_key_ids || []).join(', ')],
          ['spawned by', by && [by.method + ' at ', when(by.time), ' from ', long(by.parent_arn || (by.parent_access_key_ids || [])[0] || '—', 120), ' ', evButtons([by.event_id].concat(by.other_event_ids || []))]]]),
        bodySection(s, 'session ' + (i + 1)));
      sec.id = 's-' + i;
      return sec;
    });
    let combined = null;
    if (sessions.length > 1 && inv.combined) {
      add('#s-all', 'All sessions');
      combined = el('section', 'session combined', el('h2', null, 'All sessions together'), bodySection(inv.combined, 'all sessions'));
      combined.id = 's-all';
    }
    append(app, [summary(who, sessions), toc, whoSec, secs, combined]);
    document.body.appendChild(dlg);
    append(document.getElementById('controls'), controls());
  }

  /** `#selftest` (used by the browser test): sort an activity table by calls both ways,
   * filter it, open an event and one not in the report, switch the theme, and write what
   * happened to body[data-selftest]. */
  function selftest() {
    const t = tables.find((x) => x.kind === 'activity' && x.table.tBodies[0].rows.length > 1);
    if (!t) {
      document.body.dataset.selftest = 'no activity table with two rows';
      return;
    }
    const col = [...t.table.tHead.rows[0].cells].findIndex((th) => th.querySelector('button').dataset.key === 'calls');
    const btn = t.table.tHead.rows[0].cells[col].querySelector('button');
    const read = () => [...t.table.tBodies[0].rows].filter((r) => !r.hidden).map((r) => r.cells[col].textContent).join(',');
    btn.dispatchEvent(new MouseEvent('click', { bubbles: true }));
    const desc = read();
    btn.dispatchEvent(new MouseEvent('click', { bubbles: true }));
    const asc = read();
    const first = t.table.tBodies[0].rows[0].cells[0].querySelector('.api').textContent;
    t.input.value = first.toLowerCase();
    t.input.dispatchEvent(new Event('input'));
    const shown = [...t.table.tBodies[0].rows].filter((r) => !r.hidden).length;
    const filtered = shown + '/' + t.table.tBodies[0].rows.length;
    showEvent('selftest-absent');
    const absent = dlgPre.hidden && dlgMsg.textContent === 'not included in this report; run backtrail show selftest-absent';
    dlg.close();
    const ev = document.querySelector('.hops .ev');
    let viewer = 'none';
    if (ev) {
      ev.dispatchEvent(new MouseEvent('click', { bubbles: true }));
      viewer = dlg.open && dlgPre.textContent.includes('"eventID"') ? 'json' : dlg.open ? 'open' : 'closed';
      dlg.close();
    }
    const before = getComputedStyle(document.body).backgroundColor;
    document.querySelector('#controls .theme').click();
    const after = getComputedStyle(document.body).backgroundColor;
    document.body.dataset.selftest = 'desc=' + desc + ';asc=' + asc + ';filter=' + filtered + ';viewer=' + viewer +
      ';absent=' + (absent ? 'ok' : 'wrong') + ';theme=' + (before !== after ? 'switched' : 'same');
  }

  try {
    draw();
    document.body.dataset.rendered = 'ok';
    if (location.hash === '#selftest') selftest();
  } catch (e) {
    document.getElementById('app').appendChild(el('p', 'error', 'The report could not be drawn: ' + e));
    document.body.dataset.rendered = 'error';
  }
})();
