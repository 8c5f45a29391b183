// Connector page: its health, operations with their GraphQL fields, last errors, spec
// versions with a diff and rollback, start/stop, a test call with its request trace, its SDL
// and its generated Markdown docs. Admin controls and admin data (spec texts, config, docs)
// are neither asked for nor rendered for a viewer: the server refuses them anyway.
"use strict";

CQ.page(async (main, cq) => {
  const { el } = cq;
  const name = cq.subject;
  const admin = cq.isAdmin();
  const QUERY = `query($name: String!) { connector(name: $name) {
    name title version source state breaker registryVersion
    health { state reason at }
    operationFields { name kind field description }
    lastErrors { operation code message at }
    versions { version format createdAt ${admin ? "spec" : ""} }
    sdl ${admin ? "config" : ""} } }`;
  const RESULT = `__typename
    ... on ConnectorChanged { applied schemaVersion breakingChanges { description } }
    ... on SpecInvalid { errors { message line column } }`;

  const notices = el("div", { id: "notices", "aria-live": "polite" });
  let status = null;

  function notify(text, isError) {
    notices.replaceChildren(
      el(
        "p",
        { class: "notice" + (isError ? " error" : ""), role: isError ? "alert" : "status" },
        text,
      ),
    );
  }

  async function load() {
    const data = await cq.gql(QUERY, { name });
    status = data.connector;
    if (!status) {
      main.replaceChildren(
        el("p", { class: "error", role: "alert" }, `No connector named “${name}” on this server.`),
      );
      return;
    }
    render();
  }

  // --- admin actions: each says what happened, or why not ---------------------------------
  /** Run a lifecycle mutation; when it would break the schema, offer to force it. */
  async function change(label, mutation, variables, forceable) {
    try {
      const result = Object.values(await cq.gql(mutation, variables))[0];
      if (result.__typename === "SpecInvalid") {
        notify(
          `${label} refused: ` +
            result.errors.map((e) => `line ${e.line}: ${e.message}`).join("; "),
          true,
        );
        return;
      }
      if (!result.applied) {
        const why = result.breakingChanges.map((c) => c.description).join("; ");
        notices.replaceChildren(
          el(
            "div",
            { class: "notice error", role: "alert" },
            `${label} was not applied: it would break the schema (${why}). `,
            forceable
              ? el(
                  "button",
                  {
                    type: "button",
                    class: "danger",
                    onclick: () => change(label, mutation, { ...variables, force: true }, false),
                  },
                  `${label} anyway`,
                )
              : null,
          ),
        );
        return;
      }
      notify(`${label}: done (schema version ${result.schemaVersion}).`);
      await load();
    } catch (failure) {
      notify(`${label} failed: ${failure.message}`, true);
    }
  }

  const START = `mutation($name: String!) { startConnector(name: $name) { ${RESULT} } }`;
  const STOP = `mutation($name: String!, $force: Boolean) { stopConnector(name: $name, force: $force) { ${RESULT} } }`;
  const ROLLBACK = `mutation($name: String!, $version: Int!, $force: Boolean) {
    rollbackConnector(name: $name, version: $version, force: $force) { ${RESULT} } }`;

  // --- sections ----------------------------------------------------------------------------
  function head() {
    const health = status.health;
    const managed = status.source === "registry";
    return el(
      "section",
      { class: "card wide connector-head" },
      el("h1", {}, status.name),
      status.title ? el("span", { class: "muted" }, status.title) : null,
      el(
        "span",
        {
          class: "badge health-" + (health ? health.state.toLowerCase() : "unknown"),
          id: "health",
          title: health ? health.reason : "",
        },
        health ? health.state.toLowerCase() : "unknown",
      ),
      health ? el("span", { class: "muted small", id: "health-reason" }, health.reason) : null,
      el("span", { id: "state" }, status.state.toLowerCase()),
      el(
        "span",
        { class: "muted" },
        `breaker ${status.breaker.toLowerCase()} · ${status.source} · spec ${status.version}`,
        status.registryVersion ? ` · v${status.registryVersion}` : "",
      ),
      admin && managed
        ? el(
            "div",
            { class: "actions" },
            status.state === "RUNNING"
              ? el(
                  "button",
                  {
                    type: "button",
                    id: "stop",
                    class: "danger",
                    onclick: () => change("Stop", STOP, { name }, true),
                  },
                  "Stop",
                )
              : el(
                  "button",
                  {
                    type: "button",
                    id: "start",
                    class: "primary",
                    onclick: () => change("Start", START, { name }, false),
                  },
                  "Start",
                ),
          )
        : null,
    );
  }

  function operations() {
    return el(
      "section",
      { class: "card" },
      el("h2", {}, "Operations"),
      el(
        "table",
        { id: "operations" },
        el(
          "thead",
          {},
          el(
            "tr",
            {},
            el("th", {}, "Operation"),
            el("th", {}, "GraphQL field"),
            el("th", {}, "Description"),
          ),
        ),
        el(
          "tbody",
          {},
          status.operationFields.map((op) =>
            el(
              "tr",
              { dataset: { operation: op.name } },
              el("td", {}, op.name),
              el(
                "td",
                {},
                op.field
                  ? el("code", {}, op.field)
                  : el("span", { class: "muted" }, "not exposed (links only)"),
              ),
              el("td", { class: "muted" }, op.description || ""),
            ),
          ),
        ),
      ),
    );
  }

  function lastErrors() {
    const rows = status.lastErrors;
    return el(
      "section",
      { class: "card" },
      el("h2", {}, "Last errors"),
      rows.length
        ? el(
            "table",
            { id: "last-errors" },
            el(
              "thead",
              {},
              el(
                "tr",
                {},
                ["When", "Operation", "Code", "Message"].map((t) => el("th", {}, t)),
              ),
            ),
            el(
              "tbody",
              {},
              rows.map((e) =>
                el(
                  "tr",
                  {},
                  el("td", {}, el("time", { datetime: e.at }, new Date(e.at).toLocaleString())),
                  el("td", {}, e.operation),
                  el("td", {}, el("code", {}, e.code)),
                  el("td", {}, e.message),
                ),
              ),
            ),
          )
        : el(
            "p",
            { class: "muted", id: "last-errors" },
            "No failed call on this replica since it started.",
          ),
    );
  }

  function testing() {
    const select = el(
      "select",
      { id: "test-operation" },
      status.operationFields.map((op) => el("option", { value: op.name }, op.name)),
    );
    const args = el("input", {
      id: "test-args",
      size: 40,
      placeholder: '{"id": "1"}',
      "aria-label": "Arguments (JSON)",
    });
    const out = el("div", { id: "test-result" });
    async function run() {
      let parsed = {};
      try {
        parsed = args.value.trim() ? JSON.parse(args.value) : {};
      } catch (error) {
        out.replaceChildren(
          el("p", { class: "error", role: "alert" }, "Arguments are not JSON: " + error.message),
        );
        return;
      }
      out.replaceChildren(el("p", { class: "muted" }, "Calling…"));
      try {
        const { testConnector: t } = await cq.gql(
          `mutation($name: String!, $op: String!, $args: JSON) { testConnector(name: $name, operation: $op, args: $args) {
            ok data error trace { method urlTemplate status outcome ms } } }`,
          { name, op: select.value, args: parsed },
        );
        out.replaceChildren(
          el(
            "p",
            { class: t.ok ? "up" : "error" },
            t.ok ? "OK" : "Failed: " + (t.error && t.error.message),
          ),
          el(
            "table",
            { class: "trace" },
            el(
              "thead",
              {},
              el(
                "tr",
                {},
                ["Method", "URL template", "Status", "Outcome", "ms"].map((h) => el("th", {}, h)),
              ),
            ),
            el(
              "tbody",
              {},
              t.trace.map((s) =>
                el(
                  "tr",
                  {},
                  el("td", {}, s.method),
                  el("td", {}, el("code", {}, s.urlTemplate)),
                  el("td", {}, s.status ?? "–"),
                  el("td", {}, s.outcome),
                  el("td", {}, s.ms.toFixed(1)),
                ),
              ),
            ),
          ),
          el("pre", { class: "code" }, JSON.stringify(t.ok ? t.data : t.error, null, 2)),
        );
      } catch (failure) {
        out.replaceChildren(el("p", { class: "error", role: "alert" }, failure.message));
      }
    }
    return el(
      "section",
      { class: "card" },
      el("h2", {}, "Test an operation"),
      el(
        "div",
        { class: "row" },
        select,
        args,
        el("button", { type: "button", class: "primary", id: "test", onclick: run }, "Test"),
      ),
      out,
    );
  }

  function versions() {
    const list = status.versions;
    const current = status.registryVersion;
    const section = el("section", { class: "card" }, el("h2", {}, "Spec versions"));
    if (!list.length) {
      section.append(
        el("p", { class: "muted" }, "A connector of connectql.yaml: its versions are its file's."),
      );
      return section;
    }
    section.append(
      el(
        "table",
        { id: "versions" },
        el(
          "thead",
          {},
          el(
            "tr",
            {},
            ["Version", "Format", "Created", ""].map((t) => el("th", {}, t)),
          ),
        ),
        el(
          "tbody",
          {},
          list.map((v) =>
            el(
              "tr",
              { dataset: { version: v.version } },
              el(
                "td",
                {},
                "v" + v.version,
                v.version === current ? el("span", { class: "badge" }, " current") : null,
              ),
              el("td", {}, v.format.toLowerCase()),
              el("td", {}, new Date(v.createdAt).toLocaleString()),
              el(
                "td",
                {},
                admin && v.version !== current
                  ? el(
                      "button",
                      {
                        type: "button",
                        class: "rollback",
                        onclick: () =>
                          change(
                            `Roll back to v${v.version}`,
                            ROLLBACK,
                            { name, version: v.version },
                            true,
                          ),
                      },
                      `Roll back to v${v.version}`,
                    )
                  : null,
              ),
            ),
          ),
        ),
      ),
    );
    if (admin && list.length > 1) section.append(diffView(list, current));
    return section;
  }

  function diffView(list, current) {
    const options = (chosen) =>
      list.map((v) =>
        el("option", { value: v.version, selected: v.version === chosen }, "v" + v.version),
      );
    const newest = current || list[list.length - 1].version;
    const before =
      list
        .filter((v) => v.version !== newest)
        .map((v) => v.version)
        .pop() ?? newest;
    const from = el("select", { id: "diff-from", "aria-label": "From version" }, options(before));
    const to = el("select", { id: "diff-to", "aria-label": "To version" }, options(newest));
    const out = el("pre", { class: "code diff", id: "diff" });
    const textOf = (version) => list.find((v) => v.version === Number(version)).spec;
    const show = () => out.replaceChildren(...lineDiff(textOf(from.value), textOf(to.value)));
    from.addEventListener("change", show);
    to.addEventListener("change", show);
    show();
    return el("div", {}, el("h3", {}, "Diff"), el("div", { class: "row" }, from, "→", to), out);
  }

  function sdl() {
    return el(
      "section",
      { class: "card" },
      el("h2", {}, "SDL"),
      el(
        "pre",
        { class: "code", id: "sdl" },
        status.sdl || "Not in the schema: the connector is stopped.",
      ),
    );
  }

  function config() {
    const values = Object.entries(status.config || {});
    return el(
      "section",
      { class: "card" },
      el("h2", {}, "Config"),
      values.length
        ? el(
            "table",
            { id: "config" },
            el(
              "tbody",
              {},
              values.map(([k, v]) =>
                el(
                  "tr",
                  {},
                  el("th", {}, k),
                  el("td", {}, el("code", {}, typeof v === "string" ? v : JSON.stringify(v))),
                ),
              ),
            ),
          )
        : el("p", { class: "muted" }, "No config values."),
    );
  }

  function docs() {
    const body = el(
      "div",
      { class: "markdown", id: "docs" },
      el("p", { class: "muted" }, "Generating…"),
    );
    cq.gql(`mutation($name: String!) { generateDocs(connector: $name) { files { content } } }`, {
      name,
    })
      .then((data) => body.replaceChildren(...markdown(data.generateDocs.files[0].content)))
      .catch((failure) => body.replaceChildren(el("p", { class: "error" }, failure.message)));
    return el("section", { class: "card wide" }, el("h2", {}, "Docs"), body);
  }

  function render() {
    main.replaceChildren(
      notices,
      el(
        "div",
        { class: "connector-page" },
        head(),
        operations(),
        lastErrors(),
        admin && status.state === "RUNNING" ? testing() : null,
        versions(),
        admin ? config() : null,
        sdl(),
        admin ? docs() : null,
      ),
    );
  }

  await load();
  cq.subscribe(
    "subscription($name: String!) { connectorHealth(name: $name) { state reason at } }",
    { name },
    {
      next: ({ data }) => {
        if (!data || !status) return;
        status.health = data.connectorHealth;
        const badge = document.getElementById("health");
        if (badge) {
          badge.textContent = status.health.state.toLowerCase();
          badge.className = "badge health-" + status.health.state.toLowerCase();
          badge.title = status.health.reason;
        }
        const reason = document.getElementById("health-reason");
        if (reason) reason.textContent = status.health.reason;
      },
    },
  );

  // --- a line diff: common ends trimmed, then a longest common subsequence -------------------
  function lineDiff(a, b) {
    const x = a.split("\n");
    const y = b.split("\n");
    let start = 0;
    while (start < x.length && start < y.length && x[start] === y[start]) start++;
    let endX = x.length;
    let endY = y.length;
    while (endX > start && endY > start && x[endX - 1] === y[endY - 1]) (endX--, endY--);
    const midX = x.slice(start, endX);
    const midY = y.slice(start, endY);
    const ops = [];
    if (midX.length * midY.length > 4_000_000) {
      midX.forEach((l) => ops.push(["del", l]));
      midY.forEach((l) => ops.push(["add", l]));
    } else {
      const n = midX.length;
      const m = midY.length;
      const lcs = new Uint32Array((n + 1) * (m + 1));
      for (let i = n - 1; i >= 0; i--) {
        for (let j = m - 1; j >= 0; j--) {
          lcs[i * (m + 1) + j] =
            midX[i] === midY[j]
              ? lcs[(i + 1) * (m + 1) + j + 1] + 1
              : Math.max(lcs[(i + 1) * (m + 1) + j], lcs[i * (m + 1) + j + 1]);
        }
      }
      let i = 0;
      let j = 0;
      while (i < n || j < m) {
        if (i < n && j < m && midX[i] === midY[j]) (ops.push(["same", midX[i++]]), j++);
        else if (j < m && (i === n || lcs[i * (m + 1) + j + 1] >= lcs[(i + 1) * (m + 1) + j]))
          ops.push(["add", midY[j++]]);
        else ops.push(["del", midX[i++]]);
      }
    }
    const context = 3;
    const lines = [];
    const head = x.slice(Math.max(0, start - context), start);
    const skipped = (n) =>
      el("span", { class: "same" }, `  … ${n} unchanged line${n === 1 ? "" : "s"}`);
    if (start - head.length > 0) lines.push(skipped(start - head.length));
    head.forEach((l) => lines.push(el("span", { class: "same" }, "  " + l)));
    for (const [kind, line] of ops)
      lines.push(
        el("span", { class: kind }, (kind === "add" ? "+ " : kind === "del" ? "- " : "  ") + line),
      );
    const tail = x.slice(endX, endX + context);
    tail.forEach((l) => lines.push(el("span", { class: "same" }, "  " + l)));
    if (x.length - endX - tail.length > 0) lines.push(skipped(x.length - endX - tail.length));
    if (!ops.length) lines.push(el("span", { class: "same" }, "  (no difference)"));
    return lines;
  }

  // --- Markdown → DOM: text nodes only, so nothing in the docs can become HTML ---------------
  function markdown(text) {
    const lines = text.split("\n");
    const out = [];
    let i = 0;
    const isTableRow = (l) => /^\s*\|.*\|\s*$/.test(l);
    const cellsOf = (l) =>
      l
        .trim()
        .slice(1, -1)
        .split("|")
        .map((c) => c.trim());
    while (i < lines.length) {
      const line = lines[i];
      const fence = line.match(/^```(\w*)/);
      if (fence) {
        const code = [];
        for (i++; i < lines.length && !lines[i].startsWith("```"); i++) code.push(lines[i]);
        i++;
        out.push(
          el(
            "pre",
            {},
            el("code", { class: fence[1] ? "language-" + fence[1] : null }, code.join("\n")),
          ),
        );
        continue;
      }
      const heading = line.match(/^(#{1,6})\s+(.*)$/);
      if (heading) {
        out.push(el("h" + Math.min(6, heading[1].length + 1), {}, inline(heading[2])));
        i++;
        continue;
      }
      if (isTableRow(line) && i + 1 < lines.length && /^\s*\|[\s:|-]+\|\s*$/.test(lines[i + 1])) {
        const header = cellsOf(line);
        const rows = [];
        for (i += 2; i < lines.length && isTableRow(lines[i]); i++) rows.push(cellsOf(lines[i]));
        out.push(
          el(
            "table",
            {},
            el(
              "thead",
              {},
              el(
                "tr",
                {},
                header.map((c) => el("th", {}, inline(c))),
              ),
            ),
            el(
              "tbody",
              {},
              rows.map((r) =>
                el(
                  "tr",
                  {},
                  r.map((c) => el("td", {}, inline(c))),
                ),
              ),
            ),
          ),
        );
        continue;
      }
      const item = line.match(/^\s*([-*]|\d+\.)\s+(.*)$/);
      if (item) {
        const ordered = /\d/.test(item[1]);
        const items = [];
        while (i < lines.length) {
          const next = lines[i].match(/^\s*([-*]|\d+\.)\s+(.*)$/);
          if (!next || /\d/.test(next[1]) !== ordered) break;
          items.push(el("li", {}, inline(next[2])));
          i++;
        }
        out.push(el(ordered ? "ol" : "ul", {}, items));
        continue;
      }
      if (!line.trim()) {
        i++;
        continue;
      }
      const paragraph = [];
      while (
        i < lines.length &&
        lines[i].trim() &&
        !/^(#{1,6}\s|```|\s*([-*]|\d+\.)\s)/.test(lines[i]) &&
        !isTableRow(lines[i])
      )
        paragraph.push(lines[i++]);
      out.push(el("p", {}, inline(paragraph.join(" "))));
    }
    return out;
  }

  /** `code`, **strong**, *em* and [links](url) (http(s), relative or #anchors only). */
  function inline(text) {
    const parts = [];
    const pattern = /`([^`]+)`|\*\*([^*]+)\*\*|\*([^*]+)\*|\[([^\]]+)\]\(([^)\s]+)\)/g;
    let last = 0;
    for (const match of text.matchAll(pattern)) {
      if (match.index > last) parts.push(text.slice(last, match.index));
      if (match[1] !== undefined) parts.push(el("code", {}, match[1]));
      else if (match[2] !== undefined) parts.push(el("strong", {}, match[2]));
      else if (match[3] !== undefined) parts.push(el("em", {}, match[3]));
      else {
        const scheme = match[5].match(/^([a-z][a-z0-9+.-]*):/i);
        const safe = !scheme || /^https?$/i.test(scheme[1]); // no javascript:, data:, …
        parts.push(
          safe ? el("a", { href: match[5], rel: "noopener noreferrer" }, match[4]) : match[4],
        );
      }
      last = match.index + match[0].length;
    }
    if (last < text.length) parts.push(text.slice(last));
    return parts;
  }
});
