// Overview: every connector with its state, live health, breaker, and live charts of its
// request rate, error rate and p50/p95 latency; the schema version and a feed of its changes.
// Two subscriptions serve every connector (connectorHealth without a name, connectorsMetrics);
// events only mark rows dirty, and one animation frame redraws the changed rows in view.
"use strict";

CQ.page(async (main, cq) => {
  const { el } = cq;
  const TICK_MS = 1000;
  const KEPT = 180; // points per series: the last 3 minutes
  const LATENCY_WINDOW = 5; // ticks a latency point is computed over
  const LIST = `{ schemaVersion connectors { name title version source state breaker
    registryVersion health { state reason at } } }`;

  const rows = new Map(); // name → row (see makeRow)
  const dirty = new Set();
  let frame = 0;

  function redrawSoon(row) {
    dirty.add(row);
    if (!frame) frame = window.requestAnimationFrame(redraw);
  }

  function redraw() {
    frame = 0;
    for (const row of dirty) {
      if (!row.visible) continue; // drawn when it scrolls into view
      drawRow(row);
      dirty.delete(row);
    }
  }

  const inView = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const row = rows.get(entry.target.dataset.connector);
      if (!row) continue;
      row.visible = entry.isIntersecting;
      if (row.visible && dirty.has(row)) redrawSoon(row);
    }
  });

  // --- layout ----------------------------------------------------------------------------
  const version = el("strong", { id: "schema-version" }, "…");
  const count = el("span", { class: "muted", id: "connector-count" });
  const body = el("tbody", { id: "connectors" });
  const feed = el("ol", { class: "feed", id: "schema-feed" });
  main.append(
    el(
      "div",
      { class: "overview" },
      el(
        "section",
        { class: "card" },
        el("h1", {}, "Connectors ", count),
        el(
          "table",
          { class: "connectors" },
          el(
            "thead",
            {},
            el(
              "tr",
              {},
              [
                "Connector",
                "State",
                "Health",
                "Breaker",
                "Requests/s",
                "Errors/s",
                "Latency p50/p95",
                "Version",
              ].map((title) => el("th", {}, title)),
            ),
          ),
          body,
        ),
      ),
      el(
        "aside",
        { class: "card" },
        el("h2", {}, "Schema version ", version),
        el("p", { class: "muted" }, "Changes of the live schema, newest first."),
        feed,
      ),
    ),
  );

  // --- one row per connector -------------------------------------------------------------
  function makeRow(status) {
    const row = {
      name: status.name,
      status,
      metrics: [], // {t, requests, calls, errors, buckets}
      series: { rate: [], errors: [], p50: [], p95: [] },
      cells: {},
      visible: false,
    };
    const c = row.cells;
    c.state = el("td", { class: "state" });
    c.health = el("td", { class: "health" });
    c.breaker = el("td", { class: "breaker" });
    c.rate = chartCell(["rate"]);
    c.errors = chartCell(["errors"]);
    c.latency = chartCell(["p50", "p95"]);
    c.version = el("td", { class: "version" });
    row.tr = el(
      "tr",
      { dataset: { connector: status.name } },
      el(
        "td",
        {},
        el(
          "a",
          { href: cq.url("/console/connectors/" + encodeURIComponent(status.name)) },
          status.name,
        ),
        status.title ? el("div", { class: "muted small" }, status.title) : null,
      ),
      c.state,
      c.health,
      c.breaker,
      c.rate.td,
      c.errors.td,
      c.latency.td,
      c.version,
    );
    return row;
  }

  const SVG = "http://www.w3.org/2000/svg";
  const W = 96;
  const H = 28;

  function chartCell(lines) {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.setAttribute("width", W);
    svg.setAttribute("height", H);
    svg.setAttribute("class", "spark");
    const paths = {};
    for (const line of lines) {
      const path = document.createElementNS(SVG, "path");
      path.setAttribute("class", "line-" + line);
      svg.append(path);
      paths[line] = path;
    }
    const label = el("span", { class: "value" });
    return { td: el("td", {}, el("div", { class: "chart" }, svg, label)), paths, label };
  }

  /** An SVG path of `points` (null: a gap), scaled to the chart with `max` at the top. */
  function pathOf(points, max) {
    let d = "";
    let pen = false;
    const step = W / (Math.max(points.length, 30) - 1); // fills in, then keeps KEPT points
    const x0 = W - (points.length - 1) * step;
    points.forEach((value, i) => {
      if (value === null) {
        pen = false;
        return;
      }
      const x = (x0 + i * step).toFixed(1);
      const y = (H - 1 - (value / max) * (H - 2)).toFixed(1);
      d += (pen ? "L" : "M") + x + " " + y;
      pen = true;
    });
    return d;
  }

  function drawChart(chart, series, format) {
    let max = 0;
    for (const points of series) for (const v of points) if (v !== null && v > max) max = v;
    const names = Object.keys(chart.paths);
    names.forEach((name, i) => chart.paths[name].setAttribute("d", pathOf(series[i], max || 1)));
    const last = series.map((points) => points[points.length - 1]);
    setText(chart.label, last.every((v) => v === undefined) ? "" : last.map(format).join(" / "));
  }

  const number = (v) =>
    v === null || v === undefined ? "–" : v < 10 ? v.toFixed(1) : Math.round(v).toString();
  const ms = (v) =>
    v === null || v === undefined ? "–" : v === Infinity ? "∞" : number(v) + " ms";

  /** Text that changes only when it differs: an equal write would still cost a layout. */
  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  function drawRow(row) {
    const { status, cells, series } = row;
    setText(cells.state, status.state.toLowerCase());
    const health = status.health;
    const state = health ? health.state.toLowerCase() : "unknown";
    if (
      cells.health.dataset.state !== state ||
      cells.health.title !== (health ? health.reason : "")
    ) {
      cells.health.dataset.state = state;
      cells.health.title = health ? health.reason : "";
      cells.health.replaceChildren(el("span", { class: "badge health-" + state }, state));
    }
    const breaker = status.breaker.toLowerCase();
    if (cells.breaker.dataset.state !== breaker) {
      cells.breaker.dataset.state = breaker;
      cells.breaker.textContent = breaker.replace("_", "-");
      cells.breaker.className = "breaker breaker-" + breaker;
    }
    drawChart(cells.rate, [series.rate], number);
    drawChart(cells.errors, [series.errors], number);
    drawChart(cells.latency, [series.p50, series.p95], ms);
    setText(
      cells.version,
      (status.version || "–") + (status.registryVersion ? ` · v${status.registryVersion}` : ""),
    );
  }

  // --- metrics → series ------------------------------------------------------------------
  /** The q-quantile (bucket bound) of the requests between two histogram readings. */
  function quantile(older, newer, q) {
    const counts = newer.map((b, i) => b.count - (older ? older[i].count : 0));
    const total = counts.reduce((a, b) => a + b, 0);
    if (!total) return null;
    let seen = 0;
    for (let i = 0; i < counts.length; i++) {
      seen += counts[i];
      if (counts[i] && seen >= q * total) return newer[i].le === null ? Infinity : newer[i].le;
    }
    return null;
  }

  function push(points, value) {
    points.push(value);
    if (points.length > KEPT) points.shift();
  }

  function addMetrics(row, m, t) {
    const reading = { t, requests: m.requests, errors: m.errors, buckets: m.latencyMs.buckets };
    const history = row.metrics;
    const previous = history[history.length - 1];
    history.push(reading);
    if (history.length > LATENCY_WINDOW + 1) history.shift();
    if (m.breaker !== row.status.breaker) row.status.breaker = m.breaker;
    if (!previous || reading.requests < previous.requests) return; // first reading, or restarted
    const seconds = Math.max((t - previous.t) / 1000, 0.001);
    push(row.series.rate, (reading.requests - previous.requests) / seconds);
    push(row.series.errors, (reading.errors - previous.errors) / seconds);
    const oldest = history[0];
    push(row.series.p50, quantile(oldest.buckets, reading.buckets, 0.5));
    push(row.series.p95, quantile(oldest.buckets, reading.buckets, 0.95));
    redrawSoon(row);
  }

  // --- data --------------------------------------------------------------------------------
  async function load() {
    const data = await cq.gql(LIST);
    version.textContent = String(data.schemaVersion);
    const listed = new Set();
    const fragment = document.createDocumentFragment();
    for (const status of data.connectors) {
      listed.add(status.name);
      let row = rows.get(status.name);
      if (row) {
        Object.assign(row.status, status);
      } else {
        row = makeRow(status);
        rows.set(status.name, row);
        inView.observe(row.tr);
      }
      fragment.append(row.tr);
      drawRow(row);
    }
    for (const [name, row] of [...rows]) {
      if (listed.has(name)) continue;
      inView.unobserve(row.tr);
      dirty.delete(row);
      rows.delete(name);
    }
    body.replaceChildren(fragment);
    count.textContent = `(${rows.size})`;
  }

  await load();

  cq.subscribe(
    "subscription { connectorHealth { connector state reason at } }",
    {},
    {
      next: ({ data }) => {
        const health = data && data.connectorHealth;
        const row = health && rows.get(health.connector);
        if (!row) return;
        row.status.health = health;
        if (health.state === "STOPPED") row.status.state = "STOPPED";
        redrawSoon(row);
      },
    },
  );

  cq.subscribe(
    "subscription($ms: Int!) { connectorsMetrics(intervalMs: $ms) { connector requests errors breaker latencyMs { buckets { le count } } } }",
    { ms: TICK_MS },
    {
      next: ({ data }) => {
        const t = performance.now();
        for (const m of (data && data.connectorsMetrics) || []) {
          const row = rows.get(m.connector);
          if (row) addMetrics(row, m, t);
        }
      },
    },
  );

  let reloading = null;
  cq.subscribe(
    "subscription { schemaChanged { schemaVersion connector breakingChanges { description } dangerousChanges { description } } }",
    {},
    {
      next: ({ data }) => {
        const change = data && data.schemaChanged;
        if (!change) return;
        version.textContent = String(change.schemaVersion);
        const notes = [...change.breakingChanges, ...change.dangerousChanges].map(
          (c) => c.description,
        );
        feed.prepend(
          el(
            "li",
            {},
            el("time", {}, new Date().toLocaleTimeString()),
            " ",
            el("strong", {}, "v" + change.schemaVersion),
            " ",
            change.connector,
            notes.length
              ? el(
                  "ul",
                  {},
                  notes.slice(0, 5).map((n) => el("li", { class: "muted" }, n)),
                )
              : null,
          ),
        );
        while (feed.children.length > 50) feed.lastChild.remove();
        // a connector started, stopped, added or removed: read the list again (once at a time)
        reloading = reloading || load().finally(() => (reloading = null));
      },
    },
  );
});
