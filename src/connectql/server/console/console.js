// What every console page shares: the API key (kept in this browser session only), GraphQL
// over fetch, subscriptions over one graphql-transport-ws socket, and a DOM helper.
// A page script registers itself with `CQ.page(async (main, cq) => { ... })`; it runs once
// the user has given a key the server accepts, with `cq.role` set ("admin" or "viewer").
"use strict";

const CQ = (() => {
  const KEY = "connectql.apiKey";
  const root = document.body.dataset.root || "";
  const endpoint = new URL(root + "/graphql", window.location.href);

  function key() {
    return window.sessionStorage.getItem(KEY);
  }

  /** `el("div", {class: "x", onclick: f}, "text", child, …)`: an element; null/false children
   * are skipped, strings become text (never HTML). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith("on") && typeof value === "function") {
        node.addEventListener(name.slice(2), value);
      } else if (name === "dataset") {
        Object.assign(node.dataset, value);
      } else {
        node.setAttribute(name, value === true ? "" : String(value));
      }
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  class GraphQLFailure extends Error {
    constructor(errors) {
      super(errors.map((e) => e.message).join("; "));
      this.errors = errors;
    }
  }

  /** The whole answer ({data, errors}) of a query or mutation. */
  async function request(query, variables) {
    const response = await fetch(endpoint, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        Authorization: "Bearer " + (key() || ""),
      },
      body: JSON.stringify({ query, variables: variables || {} }),
    });
    const body = await response.json().catch(() => null);
    if (body === null) throw new GraphQLFailure([{ message: `HTTP ${response.status}` }]);
    return body;
  }

  /** The data of a query or mutation; throws GraphQLFailure when it has errors. */
  async function gql(query, variables) {
    const body = await request(query, variables);
    if (body.errors && body.errors.length) throw new GraphQLFailure(body.errors);
    return body.data;
  }

  // --- subscriptions: one socket, many operations (graphql-transport-ws) -----------------
  let socket = null;
  let acked = false;
  let nextId = 1;
  const active = new Map(); // id → {query, variables, sink}

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function connect() {
    const url = new URL(endpoint);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(url, "graphql-transport-ws");
    acked = false;
    socket.onopen = () => send({ type: "connection_init", payload: { apiKey: key() } });
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "connection_ack") {
        acked = true;
        for (const [id, op] of active) {
          send({ type: "subscribe", id, payload: { query: op.query, variables: op.variables } });
        }
      } else if (message.type === "ping") {
        send({ type: "pong" });
      } else if (message.type === "next") {
        active.get(message.id)?.sink.next(message.payload);
      } else if (message.type === "error") {
        active.get(message.id)?.sink.error?.(new GraphQLFailure(message.payload));
        active.delete(message.id);
      } else if (message.type === "complete") {
        active.get(message.id)?.sink.complete?.();
        active.delete(message.id);
      }
    };
    socket.onclose = () => {
      socket = null;
      for (const op of active.values()) op.sink.disconnected?.();
      if (active.size) window.setTimeout(connect, 1000); // and resubscribe on ack
    };
  }

  /** Subscribe; `sink.next(payload)` gets each {data, errors}. Returns the unsubscriber. */
  function subscribe(query, variables, sink) {
    const id = String(nextId++);
    active.set(id, { query, variables: variables || {}, sink });
    if (!socket) connect();
    else if (acked) send({ type: "subscribe", id, payload: { query, variables: variables || {} } });
    return () => {
      if (active.delete(id)) send({ type: "complete", id });
    };
  }

  // --- the key --------------------------------------------------------------------------
  function signIn(main, problem) {
    main.replaceChildren(
      el(
        "form",
        { class: "sign-in card", id: "sign-in" },
        el("h1", {}, "connectql console"),
        el("p", {}, "An API key of this server (kept in this browser tab only)."),
        el("label", { for: "api-key" }, "API key"),
        el("input", { id: "api-key", type: "password", autocomplete: "off", required: true }),
        problem ? el("p", { class: "error", role: "alert" }, problem) : null,
        el("button", { type: "submit" }, "Open"),
      ),
    );
    main.querySelector("form").addEventListener("submit", (event) => {
      event.preventDefault();
      window.sessionStorage.setItem(KEY, main.querySelector("#api-key").value.trim());
      window.location.reload();
    });
  }

  function signOut() {
    window.sessionStorage.removeItem(KEY);
    window.location.reload();
  }

  /** Run a page once the key is known and accepted. */
  function page(render) {
    const main = document.getElementById("main");
    const start = async () => {
      if (!key()) return signIn(main);
      let role;
      try {
        role = (await gql("{ role }")).role;
      } catch (failure) {
        window.sessionStorage.removeItem(KEY);
        return signIn(main, "That key was refused: " + failure.message);
      }
      const who = document.getElementById("who");
      who.textContent = role;
      who.dataset.role = role;
      const out = document.getElementById("sign-out");
      out.hidden = false;
      out.addEventListener("click", signOut);
      const here = document.body.dataset.page;
      document.querySelector(`[data-nav="${here}"]`)?.classList.add("here");
      cq.role = role;
      main.replaceChildren();
      await render(main, cq);
    };
    start().catch((failure) => {
      main.replaceChildren(el("p", { class: "error", role: "alert" }, String(failure.message)));
    });
  }

  const cq = {
    root,
    role: null,
    subject: document.body.dataset.subject || "",
    el,
    gql,
    request,
    subscribe,
    page,
    GraphQLFailure,
    isAdmin: () => cq.role === "admin",
    url: (path) => root + path,
  };
  return cq;
})();
