// The visual builder: start a connector spec from a template, an OpenAPI document or sample
// responses; edit it in forms and in a YAML editor side by side (an edit in one shows in the
// other); validate it on every change; try an operation against the live API; create it.
// The YAML text is the source of truth: the forms read the parsed text and write by dumping
// it again (js-yaml, vendored), which drops comments: the page says so.
"use strict";

const { el } = CQ;
const YAML = window.jsyaml;
const VALIDATE_DELAY_MS = 400;
const PARSE_DELAY_MS = 250;
const SCALARS = new Set(["ID", "String", "Int", "Float", "Boolean", "JSON"]);

const AUTH_DEFAULTS = {
  none: {},
  api_key: { key: "{config.api_key}", name: "X-API-Key", in: "header" },
  bearer: { token: "{config.token}" },
  basic: { username: "{config.username}", password: "{config.password}" },
  oauth2: {
    grant: "client_credentials",
    token_url: "{config.token_url}",
    client_id: "{config.client_id}",
    client_secret: "{config.client_secret}",
  },
  aws_sigv4: {
    region: "{config.region}",
    service: "",
    access_key_id: "{config.access_key_id}",
    secret_access_key: "{config.secret_access_key}",
  },
  custom: { hook: "" },
};
const AUTH_FIELDS = {
  none: [],
  api_key: ["key", "name", ["in", ["header", "query"]], "prefix"],
  bearer: ["token", "header", "scheme"],
  basic: ["username", "password"],
  oauth2: [
    ["grant", ["client_credentials", "refresh_token"]],
    "token_url",
    "client_id",
    "client_secret",
    "refresh_token",
  ],
  aws_sigv4: ["region", "service", "access_key_id", "secret_access_key", "session_token"],
  custom: ["hook"],
};
const PAGINATION_FIELDS = {
  none: [],
  page: ["page_param", "size_param", "page_size", "start_page", "total_pages_path"],
  offset: ["offset_param", "size_param", "page_size", "total_path"],
  cursor: ["cursor_param", "cursor_path", "cursor_from_last", "has_more_path", "size_param", "page_size"],
  link_header: ["size_param", "page_size", "rel"],
  next_url: ["next_url_path", "size_param", "page_size"],
};
const INTEGER_KEYS = new Set(["page_size", "start_page", "max_items", "max_batch", "max_concurrency"]);

// --- plain-data helpers ----------------------------------------------------------------------

function isMap(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function getIn(doc, path) {
  let node = doc;
  for (const key of path) {
    if (!isMap(node)) return undefined;
    node = node[key];
  }
  return node;
}

/** Set `path` to `value`; "" or undefined removes the key (and the maps below an item it
 * leaves empty: `request.query: {}`, not the operation). */
function putIn(doc, path, value) {
  const parents = [doc];
  let node = doc;
  for (const key of path.slice(0, -1)) {
    if (!isMap(node[key])) node[key] = {};
    node = node[key];
    parents.push(node);
  }
  const last = path[path.length - 1];
  if (value === undefined || value === "") {
    delete node[last];
    for (let i = path.length - 1; i > 2; i--) {
      if (Object.keys(parents[i]).length) break;
      delete parents[i - 1][path[i - 1]];
    }
  } else {
    node[last] = value;
  }
}

/** The map with `from` renamed to `to`, keys in the same order. */
function renamed(map, from, to) {
  const out = {};
  for (const [key, value] of Object.entries(map)) out[key === from ? to : key] = value;
  return out;
}

function fieldType(value) {
  return isMap(value) ? value.type || "" : value || "";
}

function namedType(type) {
  return String(type || "").replace(/[[\]!]/g, "");
}

function freshName(map, base) {
  let name = base;
  for (let i = 2; map && name in map; i++) name = base + i;
  return name;
}

// --- the editor: a textarea with line numbers and marked lines --------------------------------

class YamlEditor {
  constructor(onInput) {
    this.gutter = el("div", { class: "gutter", "aria-hidden": "true" });
    this.area = el("textarea", {
      id: "spec-yaml",
      class: "code",
      spellcheck: "false",
      wrap: "off",
      "aria-label": "Connector spec (YAML)",
    });
    this.band = el("div", { class: "band", hidden: true }); // behind the line looked at
    this.node = el("div", { class: "yaml-editor" }, this.gutter, el("div", { class: "text" }, this.band, this.area));
    this.marked = new Set();
    this.current = null;
    this.area.addEventListener("input", () => {
      this.numberLines();
      onInput();
    });
    this.area.addEventListener("scroll", () => {
      this.gutter.scrollTop = this.area.scrollTop;
      this.placeBand();
    });
    this.area.addEventListener("keydown", (event) => {
      if (event.key !== "Tab" || event.shiftKey || event.ctrlKey || event.altKey) return;
      event.preventDefault(); // YAML indents with spaces; insertText keeps the undo history
      document.execCommand("insertText", false, "  ");
    });
  }

  get text() {
    return this.area.value;
  }

  /** Replace the text, keeping the scroll position and the cursor on the same line. */
  replace(text) {
    const area = this.area;
    const { scrollTop } = area;
    const line = area.value.slice(0, area.selectionStart).split("\n").length;
    area.value = text;
    const offset = lineOffsets(text)[Math.min(line, lineCount(text)) - 1] || 0;
    area.setSelectionRange(offset, offset);
    area.scrollTop = scrollTop;
    this.numberLines();
  }

  numberLines() {
    const count = lineCount(this.area.value);
    const numbers = [];
    for (let n = 1; n <= count; n++) {
      const classes = [this.marked.has(n) ? "bad" : "", this.current === n ? "current" : ""];
      numbers.push(el("div", { class: classes.join(" ").trim() || null, dataset: { line: n } }, n));
    }
    this.gutter.replaceChildren(...numbers);
    this.gutter.scrollTop = this.area.scrollTop;
    this.placeBand();
  }

  placeBand() {
    this.band.hidden = this.current === null;
    if (this.current === null) return;
    const style = getComputedStyle(this.area);
    const lineHeight = parseFloat(style.lineHeight) || 18;
    const top = parseFloat(style.paddingTop) + (this.current - 1) * lineHeight - this.area.scrollTop;
    this.band.style.top = `${top}px`;
    this.band.style.height = `${lineHeight}px`;
  }

  mark(lines) {
    this.marked = new Set(lines);
    if (!this.marked.has(this.current)) this.current = null;
    this.numberLines();
  }

  /** Select line `n`, scroll it into view and mark it as the one looked at. */
  goTo(n) {
    const text = this.area.value;
    const offsets = lineOffsets(text);
    const start = offsets[n - 1] ?? text.length;
    const end = n < offsets.length ? offsets[n] - 1 : text.length;
    this.current = n;
    this.area.focus();
    this.area.setSelectionRange(start, end);
    const lineHeight = parseFloat(getComputedStyle(this.area).lineHeight) || 18;
    this.area.scrollTop = Math.max(0, (n - 1) * lineHeight - this.area.clientHeight / 3);
    this.numberLines();
  }
}

/** Replace `node`'s children, leaving out null ones (replaceChildren would show "null"). */
function show(node, ...children) {
  node.replaceChildren(...children.filter((child) => child !== null && child !== undefined));
}

function lineCount(text) {
  return text.split("\n").length;
}

function lineOffsets(text) {
  const offsets = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") offsets.push(i + 1);
  return offsets;
}

// --- the page --------------------------------------------------------------------------------

class Builder {
  constructor(main, cq) {
    this.main = main;
    this.cq = cq;
    this.doc = null; // the last YAML that parsed to a map
    this.parsedText = ""; // the text `doc` was read from (or written as)
    this.validation = null; // the last validateSpec answer for the current text
    // the form sections open, kept across re-renders (the user may close or open them)
    this.open = new Set(["connector", "config", "source", "types", "operations"]);
    this.validateTimer = null;
    this.parseTimer = null;
    this.validateSeq = 0;
    this.editor = new YamlEditor(() => this.yamlEdited());
  }

  async start() {
    this.forms = el("div", { id: "builder-forms" });
    this.problems = el("ul", { id: "spec-problems", class: "problems" });
    this.status = el("p", { id: "spec-status", class: "muted" }, "Start from a template, an OpenAPI document or samples, or write YAML.");
    this.trySection = el("section", { class: "card", id: "builder-try" });
    this.tryOut = el("div", { id: "try-outcome" });
    this.createSection = el("section", { class: "card", id: "builder-create" });
    this.createOut = el("div", { id: "create-outcome" });
    this.main.append(
      el(
        "div",
        { class: "builder" },
        await this.startSection(),
        el(
          "div",
          { class: "builder-panes" },
          el("section", { class: "card builder-forms" }, el("h2", {}, "Spec"), this.forms),
          el(
            "section",
            { class: "card builder-yaml" },
            el("h2", {}, "YAML"),
            el(
              "p",
              { class: "muted", id: "comments-note" },
              "Editing in the forms rewrites the YAML: comments in it are dropped.",
            ),
            this.editor.node,
            this.status,
            this.problems,
          ),
        ),
        this.trySection,
        this.createSection,
      ),
    );
    this.renderForms();
    this.renderTry();
    this.renderCreate();
    this.editor.numberLines();
  }

  // --- starting points ---------------------------------------------------------------------

  async startSection() {
    const { gql } = this.cq;
    const { specTemplates } = await gql("{ specTemplates { name description } }");
    const report = el("div", { id: "import-report" });
    const fail = (where, failure) =>
      where.replaceChildren(el("p", { class: "error", role: "alert" }, failure.message));

    const template = el(
      "select",
      { id: "template" },
      specTemplates.map((t) => el("option", { value: t.name }, `${t.name}: ${t.description}`)),
    );
    const templateName = el("input", { id: "template-connector", value: "my_api", "aria-label": "Connector name" });
    const fromTemplate = async () => {
      try {
        const data = await gql(
          "query($t: String!, $c: String!) { specTemplate(template: $t, connector: $c) }",
          { t: template.value, c: templateName.value.trim() },
        );
        report.replaceChildren();
        this.setText(data.specTemplate);
      } catch (failure) {
        fail(report, failure);
      }
    };

    const url = el("input", { id: "openapi-url", type: "url", placeholder: "https://…/openapi.json", "aria-label": "OpenAPI URL" });
    const file = el("input", { id: "openapi-file", type: "file", accept: ".json,.yaml,.yml", "aria-label": "OpenAPI file" });
    const importName = el("input", { id: "openapi-connector", placeholder: "connector name (optional)", "aria-label": "Connector name" });
    const fromOpenAPI = async () => {
      let source = url.value.trim();
      if (file.files.length) source = await file.files[0].text();
      if (!source) return fail(report, new Error("Give an OpenAPI URL or choose a file."));
      try {
        const data = await gql(
          `mutation($s: String!, $n: String) { importOpenAPI(source: $s, name: $n, dryRun: true) {
             spec operations types skipped { where reason } collisions } }`,
          { s: source, n: importName.value.trim() || null },
        );
        const outcome = data.importOpenAPI;
        this.setText(outcome.spec);
        show(
          report,
          el("p", {}, `Imported ${outcome.operations} operations and ${outcome.types} types.`),
          outcome.skipped.length
            ? el(
                "div",
                { id: "skip-report" },
                el("h3", {}, `Skipped (${outcome.skipped.length})`),
                el("ul", {}, outcome.skipped.map((s) => el("li", {}, el("code", {}, s.where), " — ", s.reason))),
              )
            : el("p", { id: "skip-report", class: "muted" }, "Nothing was skipped."),
          outcome.collisions.length
            ? el("ul", { class: "muted" }, outcome.collisions.map((c) => el("li", {}, "Renamed: " + c)))
            : null,
        );
      } catch (failure) {
        fail(report, failure);
      }
    };

    const samples = el("div", { id: "samples" });
    const addSample = () =>
      samples.append(
        el("textarea", { class: "code sample", rows: 5, placeholder: '{"id": "1", "name": "…"}', "aria-label": "Sample response (JSON)" }),
      );
    addSample();
    const typeName = el("input", { id: "sample-type", value: "Item", "aria-label": "Type name" });
    const records = el("input", { id: "sample-records", placeholder: "records path, e.g. data (optional)", "aria-label": "Records path" });
    const fromSamples = async () => {
      let parsed;
      try {
        parsed = [...samples.querySelectorAll("textarea")]
          .filter((area) => area.value.trim())
          .map((area, i) => {
            try {
              return JSON.parse(area.value);
            } catch (error) {
              throw new Error(`sample ${i + 1} is not JSON: ${error.message}`);
            }
          });
        if (!parsed.length) throw new Error("Paste at least one sample response (JSON).");
        const data = await gql(
          `mutation($s: [JSON!]!, $t: String!, $r: String) {
             inferTypes(samples: $s, typeName: $t, records: $r) { types reasons } }`,
          { s: parsed, t: typeName.value.trim(), r: records.value.trim() || null },
        );
        this.mergeTypes(YAML.load(data.inferTypes.types).types || {});
        show(
          report,
          el("p", {}, "Types inferred from the samples; add an operation that returns them."),
          data.inferTypes.reasons.length
            ? el("ul", { class: "muted" }, data.inferTypes.reasons.map((r) => el("li", {}, r)))
            : null,
        );
      } catch (failure) {
        fail(report, failure);
      }
    };

    return el(
      "section",
      { class: "card builder-start" },
      el("h1", {}, "Build a connector"),
      el(
        "div",
        { class: "start-ways" },
        el(
          "div",
          { class: "start-way" },
          el("h3", {}, "From a template"),
          template,
          templateName,
          el("button", { type: "button", id: "use-template", onclick: fromTemplate }, "Use template"),
        ),
        el(
          "div",
          { class: "start-way" },
          el("h3", {}, "From OpenAPI"),
          url,
          file,
          importName,
          el("button", { type: "button", id: "import-openapi", onclick: fromOpenAPI }, "Import (dry run)"),
        ),
        el(
          "div",
          { class: "start-way" },
          el("h3", {}, "From sample responses"),
          samples,
          el("button", { type: "button", onclick: addSample }, "Another sample"),
          typeName,
          records,
          el("button", { type: "button", id: "infer-types", onclick: fromSamples }, "Infer types"),
        ),
      ),
      report,
    );
  }

  /** Types inferred from samples join the spec (a skeleton if there is none yet). */
  mergeTypes(types) {
    if (this.editor.text !== this.parsedText) this.parse();
    if (this.doc === null && this.editor.text.trim()) {
      throw new Error("The YAML does not parse: fix it, or clear it to start a new spec.");
    }
    const doc = this.doc || {
      spec_version: 1,
      connector: { name: "my_api" },
      config: { base_url: { required: true } },
      source: { base_url: "{config.base_url}" },
    };
    doc.types = { ...(doc.types || {}), ...types };
    if (!isMap(doc.operations)) doc.operations = {};
    this.doc = doc;
    this.write();
    this.renderForms();
  }

  // --- text ⇄ forms --------------------------------------------------------------------------

  /** New text from outside the editor (a template, an import). */
  setText(text) {
    this.editor.replace(text);
    this.parse();
    this.renderForms();
    this.scheduleValidate();
  }

  yamlEdited() {
    window.clearTimeout(this.parseTimer);
    this.parseTimer = window.setTimeout(() => {
      this.parse();
      this.renderForms();
    }, PARSE_DELAY_MS);
    this.scheduleValidate();
  }

  parse() {
    window.clearTimeout(this.parseTimer);
    this.parsedText = this.editor.text;
    try {
      const parsed = YAML.load(this.editor.text);
      this.doc = isMap(parsed) ? parsed : null;
      this.parseError = null;
    } catch (error) {
      this.doc = null;
      this.parseError = error.reason || error.message;
    }
  }

  /** A form changed `this.doc`: the YAML follows. */
  write() {
    if (this.editor.text !== this.parsedText) {
      // YAML typed in the last instant that the forms have not read yet wins over the form
      // edit made on the older spec: the forms catch up instead
      this.parse();
      this.renderForms();
      return;
    }
    this.editor.replace(YAML.dump(this.doc, { lineWidth: -1, noRefs: true }));
    this.parsedText = this.editor.text;
    this.scheduleValidate();
  }

  edit(path, value) {
    putIn(this.doc, path, value);
    this.write();
  }

  // --- validation ----------------------------------------------------------------------------

  scheduleValidate() {
    window.clearTimeout(this.validateTimer);
    this.validateTimer = window.setTimeout(() => this.validate(), VALIDATE_DELAY_MS);
  }

  async validate() {
    const { gql } = this.cq;
    const seq = ++this.validateSeq;
    const text = this.editor.text;
    if (!text.trim()) return;
    let result;
    try {
      result = (await gql(
        `mutation($s: String!) { validateSpec(spec: $s) {
           valid errors { message line column path } connector operations types } }`,
        { s: text },
      )).validateSpec;
    } catch (failure) {
      if (seq === this.validateSeq) this.status.replaceChildren(el("span", { class: "error" }, failure.message));
      return;
    }
    if (seq !== this.validateSeq) return; // a later edit is being validated
    this.validation = result;
    this.editor.mark(result.errors.map((e) => e.line).filter(Boolean));
    this.status.className = result.valid ? "up" : "error";
    this.status.textContent = result.valid
      ? `Valid: ${result.connector}, ${result.operations.length} operations, ${result.types.length} types.`
      : `${result.errors.length} problem${result.errors.length === 1 ? "" : "s"}:`;
    this.problems.replaceChildren(
      ...result.errors.map((problem) =>
        el(
          "li",
          {},
          el(
            "button",
            {
              type: "button",
              class: "problem",
              dataset: { line: problem.line ?? "" },
              onclick: () => problem.line && this.editor.goTo(problem.line),
            },
            problem.line ? `line ${problem.line}` : "spec",
            problem.path ? ` · ${problem.path}` : "",
          ),
          " ",
          problem.message,
        ),
      ),
    );
    this.renderTry();
    this.renderCreate();
  }

  // --- forms ---------------------------------------------------------------------------------

  renderForms() {
    for (const details of this.forms.querySelectorAll("details[data-key]")) {
      if (details.open) this.open.add(details.dataset.key);
      else this.open.delete(details.dataset.key);
    }
    if (!this.doc) {
      this.forms.replaceChildren(
        el(
          "p",
          { class: this.parseError ? "error" : "muted" },
          this.parseError ? `The YAML does not parse (${this.parseError}); the forms wait for it.` : "No spec yet.",
        ),
      );
      return;
    }
    this.forms.replaceChildren(
      this.section("connector", "Connector", this.connectorForm()),
      this.section("config", "Config keys", this.configForm()),
      this.section("source", "Source and auth", this.sourceForm()),
      this.section("types", "Types", this.typesForm()),
      this.section("operations", "Operations", this.operationsForm()),
    );
  }

  section(key, title, ...body) {
    return el(
      "details",
      { dataset: { key }, open: this.open.has(key) },
      el("summary", {}, title),
      ...body,
    );
  }

  /** A labelled input bound to `path` in the spec. */
  input(label, path, { type = "text", options = null, name = null } = {}) {
    const current = getIn(this.doc, path);
    const id = "f-" + path.join("-").replace(/[^A-Za-z0-9_-]/g, "_");
    let control;
    const read = () => {
      if (type === "number") return control.value === "" ? undefined : Number(control.value);
      if (type === "checkbox") return control.checked ? true : undefined;
      return control.value;
    };
    if (options) {
      control = el("select", { id, name: name || path.join(".") }, ["", ...options].map((o) => el("option", { value: o, selected: o === current }, o)));
    } else if (type === "checkbox") {
      control = el("input", { id, type, checked: current === true, name: name || path.join(".") });
    } else {
      control = el("input", { id, type, value: current ?? "", name: name || path.join(".") });
    }
    control.addEventListener(type === "checkbox" || options ? "change" : "input", () => this.edit(path, read()));
    return el("label", { class: "field", for: id }, el("span", {}, label), control);
  }

  connectorForm() {
    return el(
      "div",
      { class: "grid" },
      this.input("name", ["connector", "name"]),
      this.input("title", ["connector", "title"]),
      this.input("version", ["connector", "version"]),
      this.input("description", ["connector", "description"]),
    );
  }

  configForm() {
    const config = isMap(this.doc.config) ? this.doc.config : {};
    const rows = Object.keys(config).map((key) =>
      el(
        "tr",
        {},
        el("td", {}, this.keyInput(["config"], key, "config key")),
        el("td", {}, this.input("required", ["config", key, "required"], { type: "checkbox" })),
        el("td", {}, this.input("secret", ["config", key, "secret"], { type: "checkbox" })),
        el("td", {}, this.input("default", ["config", key, "default"])),
        el("td", {}, this.removeButton(["config", key])),
      ),
    );
    return el(
      "div",
      {},
      el("table", { class: "compact" }, el("tbody", {}, rows)),
      this.addButton("Add config key", ["config"], "key", {}),
    );
  }

  sourceForm() {
    const auth = getIn(this.doc, ["source", "auth"]);
    const kind = isMap(auth) ? auth.type || "none" : "none";
    const select = el(
      "select",
      { id: "auth-type", name: "source.auth.type" },
      Object.keys(AUTH_FIELDS).map((t) => el("option", { value: t, selected: t === kind }, t)),
    );
    select.addEventListener("change", () => {
      const chosen = select.value;
      this.edit(["source", "auth"], chosen === "none" ? undefined : { type: chosen, ...AUTH_DEFAULTS[chosen] });
      this.renderForms();
    });
    const fields = AUTH_FIELDS[kind] || [];
    return el(
      "div",
      { class: "grid" },
      this.input("base_url", ["source", "base_url"]),
      el("label", { class: "field", for: "auth-type" }, el("span", {}, "auth"), select),
      fields.map((f) =>
        Array.isArray(f)
          ? this.input(`auth ${f[0]}`, ["source", "auth", f[0]], { options: f[1] })
          : this.input(`auth ${f}`, ["source", "auth", f]),
      ),
    );
  }

  typesForm() {
    const types = isMap(this.doc.types) ? this.doc.types : {};
    return el(
      "div",
      {},
      Object.entries(types).map(([name, type]) => {
        const kind = (isMap(type) && type.kind) || "object";
        let body;
        if (kind === "enum") {
          body = this.listInput("values", ["types", name, "values"]);
        } else if (kind === "union") {
          body = el(
            "div",
            { class: "grid" },
            this.listInput("member types", ["types", name, "types"]),
            this.input("discriminator field", ["types", name, "discriminator", "field"]),
            el("p", { class: "muted wide" }, "The discriminator's mapping (value → type) is edited in the YAML."),
          );
        } else {
          const fields = isMap(type) && isMap(type.fields) ? type.fields : {};
          body = el(
            "div",
            {},
            el(
              "table",
              { class: "compact" },
              el("thead", {}, el("tr", {}, el("th", {}, "field"), el("th", {}, "type"), el("th", {}, "from (upstream key)"), el("th", {}))),
              el(
                "tbody",
                {},
                Object.entries(fields).map(([field, value]) =>
                  el(
                    "tr",
                    { dataset: { field } },
                    el("td", {}, this.keyInput(["types", name, "fields"], field, "field name")),
                    el("td", {}, this.fieldTypeInput(name, field, value)),
                    el("td", {}, this.fieldFromInput(name, field, value)),
                    el("td", {}, this.removeButton(["types", name, "fields", field])),
                  ),
                ),
              ),
            ),
            this.addButton("Add field", ["types", name, "fields"], "field", "String"),
          );
        }
        return el(
          "details",
          { class: "item", dataset: { key: "type:" + name }, open: this.open.has("type:" + name) },
          el("summary", {}, name, el("span", { class: "muted" }, ` ${kind}`)),
          el(
            "div",
            { class: "grid" },
            this.keyInput(["types"], name, "type name"),
            this.kindSelect(name, kind),
            this.removeButton(["types", name], "Remove type"),
          ),
          body,
        );
      }),
      this.addButton("Add type", ["types"], "NewType", { fields: { id: "ID!" } }),
    );
  }

  kindSelect(name, kind) {
    const select = el(
      "select",
      { name: `types.${name}.kind`, "aria-label": `${name} kind` },
      ["object", "input", "enum", "union"].map((k) => el("option", { value: k, selected: k === kind }, k)),
    );
    select.addEventListener("change", () => {
      this.edit(["types", name, "kind"], select.value === "object" ? undefined : select.value);
      this.renderForms();
    });
    return select;
  }

  fieldTypeInput(typeName, field, value) {
    const control = el("input", { value: fieldType(value), name: `types.${typeName}.fields.${field}.type`, "aria-label": `${field} type` });
    control.addEventListener("input", () => {
      const fields = this.doc.types[typeName].fields;
      const current = fields[field];
      fields[field] = isMap(current) ? { ...current, type: control.value } : control.value;
      this.write();
    });
    return control;
  }

  fieldFromInput(typeName, field, value) {
    const control = el("input", { value: isMap(value) ? value.from ?? "" : "", name: `types.${typeName}.fields.${field}.from`, "aria-label": `${field} from` });
    control.addEventListener("input", () => {
      const fields = this.doc.types[typeName].fields;
      const current = isMap(fields[field]) ? { ...fields[field] } : { type: fields[field] };
      if (control.value) current.from = control.value;
      else delete current.from;
      const keys = Object.keys(current);
      fields[field] = keys.length === 1 && keys[0] === "type" ? current.type : current;
      this.write();
    });
    return control;
  }

  operationsForm() {
    const operations = isMap(this.doc.operations) ? this.doc.operations : {};
    return el(
      "div",
      {},
      Object.entries(operations).map(([name, op]) => {
        const at = ["operations", name];
        const request = isMap(op) && isMap(op.request) ? op.request : {};
        const key = "op:" + name;
        return el(
          "details",
          { class: "item", dataset: { key, operation: name }, open: this.open.has(key) },
          el("summary", {}, name, el("span", { class: "muted" }, ` ${request.method || "GET"} ${request.path || ""}`)),
          el(
            "div",
            { class: "grid" },
            this.keyInput(["operations"], name, "operation name"),
            this.input("kind", [...at, "kind"], { options: ["query", "mutation", "subscription"] }),
            this.input("method", [...at, "request", "method"], { options: ["GET", "POST", "PUT", "PATCH", "DELETE"] }),
            this.input("path", [...at, "request", "path"]),
            this.input("response type", [...at, "response", "type"]),
            this.input("records (path in the response)", [...at, "response", "records"]),
          ),
          el("h4", {}, "Arguments"),
          this.mapEditor([...at, "args"], "argument", "String"),
          el("h4", {}, "Query parameters"),
          this.mapEditor([...at, "request", "query"], "param", "{args.param}"),
          el("h4", {}, "Pagination"),
          this.paginationForm(at, op),
          el("h4", {}, "Batching"),
          this.batchForm(at, op),
          this.removeButton(at, "Remove operation"),
        );
      }),
      this.addButton("Add operation", ["operations"], "newOperation", { request: { path: "/" }, response: { type: "JSON" } }),
    );
  }

  paginationForm(at, op) {
    const pagination = isMap(op) && isMap(op.pagination) ? op.pagination : null;
    const strategy = pagination ? pagination.strategy || "none" : "none";
    const select = el(
      "select",
      { name: `${at.join(".")}.pagination.strategy`, "aria-label": "pagination strategy" },
      Object.keys(PAGINATION_FIELDS).map((s) => el("option", { value: s, selected: s === strategy }, s)),
    );
    select.addEventListener("change", () => {
      const chosen = select.value;
      const kept = pagination ? { size_param: pagination.size_param, page_size: pagination.page_size } : {};
      for (const k of Object.keys(kept)) if (kept[k] === undefined) delete kept[k];
      this.edit([...at, "pagination"], chosen === "none" ? undefined : { strategy: chosen, ...kept });
      this.renderForms();
    });
    return el(
      "div",
      { class: "grid" },
      el("label", { class: "field" }, el("span", {}, "strategy"), select),
      PAGINATION_FIELDS[strategy].map((f) =>
        this.input(f, [...at, "pagination", f], { type: INTEGER_KEYS.has(f) ? "number" : "text" }),
      ),
    );
  }

  batchForm(at, op) {
    const batch = isMap(op) && isMap(op.batch) ? op.batch : null;
    const toggle = el("input", { type: "checkbox", checked: Boolean(batch), name: `${at.join(".")}.batch`, "aria-label": "batched" });
    toggle.addEventListener("change", () => {
      const args = Object.keys((isMap(op) && op.args) || {});
      this.edit([...at, "batch"], toggle.checked ? { key: args[0] || "id", mode: "fan_out" } : undefined);
      this.renderForms();
    });
    const parts = [el("label", { class: "field" }, el("span", {}, "batch calls for many keys"), toggle)];
    if (batch) {
      const mode = batch.mode || "fan_out";
      parts.push(
        this.input("key (an argument)", [...at, "batch", "key"]),
        this.input("mode", [...at, "batch", "mode"], { options: ["fan_out", "request", "hook"] }),
        this.input("max_batch", [...at, "batch", "max_batch"], { type: "number" }),
      );
      if (mode === "request") {
        parts.push(
          this.input("multi-get path", [...at, "batch", "request", "path"]),
          this.input("records", [...at, "batch", "records"]),
          this.input("match_on (field)", [...at, "batch", "match_on"]),
          el("div", { class: "wide" }, el("span", { class: "muted" }, "multi-get query ({keys}: the keys)"), this.mapEditor([...at, "batch", "request", "query"], "ids", "{keys}")),
        );
      }
      if (mode === "hook") parts.push(this.input("hook", [...at, "batch", "hook"]));
    }
    return el("div", { class: "grid" }, parts);
  }

  /** Rows of `name: value` (strings) for the map at `path`: arguments, query parameters. */
  mapEditor(path, base, initial) {
    const map = getIn(this.doc, path);
    const entries = isMap(map) ? Object.entries(map) : [];
    return el(
      "div",
      { class: "map-editor", dataset: { path: path.join(".") } },
      el(
        "table",
        { class: "compact" },
        el(
          "tbody",
          {},
          entries.map(([key, value]) => {
            // a value that is not text (a map, a number) is shown, and edited in the YAML
            const text = typeof value === "string";
            const control = el("input", {
              value: text ? value : JSON.stringify(value),
              name: [...path, key].join("."),
              "aria-label": `${key} value`,
              readonly: !text,
              title: text ? null : "Edit this value in the YAML",
            });
            control.addEventListener("input", () => this.edit([...path, key], control.value));
            return el("tr", {}, el("td", {}, this.keyInput(path, key, `${base} name`)), el("td", {}, control), el("td", {}, this.removeButton([...path, key])));
          }),
        ),
      ),
      this.addButton(`Add ${base}`, path, base, initial),
    );
  }

  listInput(label, path) {
    const current = getIn(this.doc, path);
    if (current !== undefined && !Array.isArray(current)) {
      return el("p", { class: "muted" }, `${label}: not a list here; edit them in the YAML.`);
    }
    const control = el("input", { value: Array.isArray(current) ? current.join(", ") : "", name: path.join(".") });
    control.addEventListener("input", () =>
      this.edit(path, control.value.split(",").map((v) => v.trim()).filter(Boolean)),
    );
    return el("label", { class: "field" }, el("span", {}, label + " (comma-separated)"), control);
  }

  /** An input renaming the key `key` of the map at `path` (on change: the form follows). */
  keyInput(path, key, label) {
    const control = el("input", { value: key, class: "key", name: [...path, key, "@name"].join("."), "aria-label": label });
    control.addEventListener("change", () => {
      const to = control.value.trim();
      const map = getIn(this.doc, path);
      if (!to || to === key || !isMap(map) || to in map) {
        control.value = key;
        return;
      }
      putIn(this.doc, path, renamed(map, key, to));
      const item = path.length === 1 ? { operations: "op:", types: "type:" }[path[0]] : null;
      if (item && this.open.has(item + key)) this.open.add(item + to);
      this.write();
      this.renderForms();
    });
    return control;
  }

  removeButton(path, label = "Remove") {
    return el(
      "button",
      {
        type: "button",
        class: "danger small",
        "aria-label": `${label} ${path.join(".")}`,
        onclick: () => {
          const parent = getIn(this.doc, path.slice(0, -1));
          if (isMap(parent)) delete parent[path[path.length - 1]];
          this.write();
          this.renderForms();
        },
      },
      label,
    );
  }

  addButton(label, path, base, initial) {
    return el(
      "button",
      {
        type: "button",
        class: "small",
        onclick: () => {
          const map = isMap(getIn(this.doc, path)) ? getIn(this.doc, path) : {};
          const name = freshName(map, base);
          putIn(this.doc, path, { ...map, [name]: structuredClone(initial) });
          if (path[0] === "operations") this.open.add("op:" + name);
          if (path[0] === "types" && path.length === 1) this.open.add("type:" + name);
          this.write();
          this.renderForms();
        },
      },
      label,
    );
  }

  // --- try an operation ----------------------------------------------------------------------

  configValues() {
    const values = {};
    for (const input of this.trySection.querySelectorAll("[data-config]")) {
      if (input.value !== "") values[input.dataset.config] = input.value;
    }
    return values;
  }

  renderTry() {
    const { gql } = this.cq;
    const before = this.configValues();
    const previous = this.trySection.querySelector("#try-operation")?.value;
    const previousArgs = this.trySection.querySelector("#try-args")?.value;
    const valid = this.validation?.valid;
    const operations = valid ? this.validation.operations : [];
    const config = (this.doc && isMap(this.doc.config) && this.doc.config) || {};
    const configInputs = Object.entries(config).map(([key, decl]) =>
      el(
        "label",
        { class: "field" },
        el("span", {}, key + (isMap(decl) && decl.required ? " *" : "")),
        el("input", {
          dataset: { config: key },
          name: "config." + key,
          type: isMap(decl) && decl.secret ? "password" : "text",
          autocomplete: "off",
          value: before[key] ?? (isMap(decl) && decl.default != null ? String(decl.default) : ""),
          placeholder: isMap(decl) && decl.secret ? "secret: sent to the server only" : "",
        }),
      ),
    );
    const select = el("select", { id: "try-operation" }, operations.map((o) => el("option", { value: o, selected: o === previous }, o)));
    const args = el("textarea", { id: "try-args", class: "code", rows: 3, "aria-label": "Arguments (JSON)" });
    const fillArgs = () => {
      const declared = getIn(this.doc, ["operations", select.value, "args"]);
      args.value = JSON.stringify(Object.fromEntries(Object.keys(isMap(declared) ? declared : {}).map((k) => [k, ""])), null, 1);
    };
    if (previousArgs !== undefined && select.value === previous) args.value = previousArgs;
    else fillArgs();
    select.addEventListener("change", fillArgs);
    const out = this.tryOut;
    const run = async () => {
      let parsedArgs;
      try {
        parsedArgs = args.value.trim() ? JSON.parse(args.value) : {};
      } catch (error) {
        out.replaceChildren(el("p", { class: "error" }, "The arguments are not JSON: " + error.message));
        return;
      }
      out.replaceChildren(el("p", { class: "muted" }, "Calling…"));
      try {
        const data = await gql(
          `mutation($s: String!, $o: String!, $a: JSON, $c: JSON) {
             testSpec(spec: $s, operation: $o, args: $a, config: $c) {
               ok data error trace { method urlTemplate status outcome ms } } }`,
          { s: this.editor.text, o: select.value, a: parsedArgs, c: this.configValues() },
        );
        this.tried = { operation: select.value, args: parsedArgs };
        out.replaceChildren(...this.testOutcome(data.testSpec));
      } catch (failure) {
        out.replaceChildren(el("p", { class: "error", role: "alert" }, failure.message));
      }
    };
    this.trySection.replaceChildren(
      el("h2", {}, "Config values and a test call"),
      el("p", { class: "muted" }, "Config values are used for the test and stored with the connector when you create it; secrets are encrypted at rest."),
      el("div", { class: "grid" }, configInputs),
      valid
        ? el(
            "div",
            { class: "grid" },
            el("label", { class: "field", for: "try-operation" }, el("span", {}, "operation"), select),
            el("label", { class: "field wide", for: "try-args" }, el("span", {}, "arguments (JSON)"), args),
            el("div", {}, el("button", { type: "button", id: "try-run", class: "primary", onclick: run }, "Call it")),
          )
        : el("p", { class: "muted" }, "A valid spec can be tried here."),
      out,
    );
  }

  testOutcome(result) {
    return [
      el("p", { class: result.ok ? "up" : "error", id: "try-status" }, result.ok ? "The call succeeded." : `The call failed: ${result.error?.message ?? ""} (${result.error?.code ?? "error"})`),
      el(
        "table",
        { id: "try-trace", class: "compact" },
        el("thead", {}, el("tr", {}, ["method", "URL template", "status", "outcome", "ms"].map((h) => el("th", {}, h)))),
        el(
          "tbody",
          {},
          result.trace.map((step) =>
            el("tr", {}, el("td", {}, step.method), el("td", {}, el("code", {}, step.urlTemplate)), el("td", {}, step.status ?? "—"), el("td", {}, step.outcome), el("td", {}, step.ms.toFixed(1))),
          ),
        ),
      ),
      el("h3", {}, "Shaped result"),
      el("pre", { id: "try-result", class: "result" }, JSON.stringify(result.ok ? result.data : result.error, null, 2)),
    ];
  }

  // --- create --------------------------------------------------------------------------------

  renderCreate() {
    const { gql } = this.cq;
    const out = this.createOut;
    const create = async () => {
      out.replaceChildren(el("p", { class: "muted" }, "Creating…"));
      try {
        const data = await gql(
          `mutation($s: String!, $c: JSON) { createConnector(spec: $s, config: $c) {
             __typename
             ... on ConnectorChanged { applied schemaVersion connector { name state sdl } }
             ... on SpecInvalid { errors { message line path } } } }`,
          { s: this.editor.text, c: this.configValues() },
        );
        const result = data.createConnector;
        if (result.__typename === "SpecInvalid") {
          out.replaceChildren(el("p", { class: "error", role: "alert" }, "Not created: " + result.errors.map((e) => `line ${e.line ?? "?"}: ${e.message}`).join("; ")));
          return;
        }
        const name = result.connector.name;
        const query = this.exampleQuery(name);
        out.replaceChildren(
          el("p", { class: "up", id: "created" }, `Created ${name} (${result.connector.state}); the schema is now version ${result.schemaVersion}.`),
          el(
            "p",
            {},
            el("a", { id: "open-connector", href: this.cq.url("/console/connectors/" + encodeURIComponent(name)) }, "Its page"),
            " · ",
            el("a", { id: "open-graphiql", href: this.cq.url("/graphql#query=" + encodeURIComponent(query)) }, "Query it in GraphiQL"),
          ),
          el("h3", {}, "Its part of the graph"),
          el("pre", { id: "created-sdl", class: "result" }, result.connector.sdl || ""),
        );
      } catch (failure) {
        out.replaceChildren(el("p", { class: "error", role: "alert" }, failure.message));
      }
    };
    const valid = this.validation?.valid;
    this.createSection.replaceChildren(
      el("h2", {}, "Create"),
      el("p", { class: "muted" }, "Stores the spec in the registry with the config values above and starts it: its fields join the graph."),
      el("button", { type: "button", id: "create-connector", class: "primary", disabled: !valid, onclick: create }, "Create connector"),
      out,
    );
  }

  /** A query of the new connector: the operation last tried (with its arguments), else the
   * first query operation, selecting the scalar fields of what it returns. */
  exampleQuery(name) {
    const operations = (this.doc && this.doc.operations) || {};
    const isQuery = (op) => !isMap(op) || (op.kind || "query") === "query";
    let opName = this.tried && isQuery(operations[this.tried.operation]) ? this.tried.operation : null;
    opName = opName || Object.keys(operations).find((n) => isQuery(operations[n]));
    if (!opName) return `{\n  connector(name: ${JSON.stringify(name)}) { name state }\n}\n`;
    const op = operations[opName];
    const args = this.tried && this.tried.operation === opName ? { ...this.tried.args } : {};
    const paginated = isMap(op.pagination) && op.pagination.strategy !== "none";
    if (paginated) args.first = 5;
    const argText = Object.keys(args).length
      ? "(" + Object.entries(args).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(", ") + ")"
      : "";
    const returned = this.doc.types?.[namedType(op.response?.type)];
    const leaves = isMap(returned?.fields)
      ? Object.entries(returned.fields).filter(([, v]) => {
          const t = namedType(fieldType(v));
          return SCALARS.has(t) || this.doc.types?.[t]?.kind === "enum";
        }).map(([k]) => k).slice(0, 8)
      : [];
    let selection = leaves.length ? ` { ${leaves.join(" ")} }` : "";
    if (paginated) selection = ` { nodes${selection} }`;
    return `{\n  ${name} {\n    ${opName}${argText}${selection}\n  }\n}\n`;
  }
}

CQ.page(async (main, cq) => {
  if (!cq.isAdmin()) {
    // Every builder call (templates, validateSpec, importOpenAPI, inferTypes, testSpec,
    // createConnector) needs an admin key: a spec may hold credentials and a test calls the
    // upstream. A read-only builder would show a viewer an editor that can do nothing.
    main.append(
      el(
        "section",
        { class: "card", id: "builder-admin-only" },
        el("h1", {}, "Builder"),
        el("p", {}, "The builder needs an admin API key: it reads and writes connector specs, " +
          "which may hold credentials, and calls upstream APIs to test them."),
        el("p", {}, el("a", { href: cq.url("/console") }, "Back to the overview")),
      ),
    );
    return;
  }
  const builder = new Builder(main, cq);
  await builder.start();
});
