// vertex-engine admin console. Plain DOM: every value from the server goes in as text
// (textContent / text nodes), never as HTML, so a key alias or metadata cannot inject markup.
"use strict";

(() => {
  const state = { csrf: null, view: "keys", keysPage: 1, keysPages: 1, editing: null };
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";

  // --- small helpers -------------------------------------------------------------------------

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props || {})) {
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name === "onclick") node.addEventListener("click", value);
      else node.setAttribute(name, String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
    return node;
  }

  // Dollars with enough digits that a few cheap calls show: $12.34, $0.0123, $0.0000123.
  function usd(value) {
    const x = Number(value) || 0;
    if (x === 0) return "$0.00";
    const a = Math.abs(x);
    if (a >= 1) return "$" + x.toFixed(2);
    const digits = Math.min(12, Math.max(4, 2 - Math.floor(Math.log10(a))));
    return "$" + x.toFixed(digits);
  }

  const int = (n) => (Number(n) || 0).toLocaleString("en-US");
  const when = (iso) => (iso ? iso.replace("T", " ").replace(/\.\d+Z$|Z$/, "") : "—");

  function toast(message) {
    const node = $("toast");
    node.textContent = message;
    node.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { node.hidden = true; }, 3500);
  }

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(method, path, body) {
    const headers = { accept: "application/json" };
    if (method !== "GET") {
      headers["content-type"] = "application/json";
      if (state.csrf) headers["x-csrf-token"] = state.csrf;
    }
    const response = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (!response.ok) {
      const message = (data && data.error && data.error.message) || `${response.status} ${response.statusText}`;
      if (response.status === 401 && !path.endsWith("/login")) showSignin();
      throw new ApiError(response.status, message);
    }
    return data;
  }

  // --- session -------------------------------------------------------------------------------

  function hideNewKey() {
    $("new-key").hidden = true;
    $("new-key-value").textContent = "";
  }

  function showSignin(message) {
    state.csrf = null;
    hideNewKey();  // a new key's value never outlives the session that made it
    $("nav").hidden = true;
    for (const view of document.querySelectorAll(".view")) view.hidden = true;
    $("signin").hidden = false;
    $("signin-error").textContent = message || "";
    $("master-key").focus();
  }

  function showApp(session) {
    state.csrf = session.csrf_token;
    $("signin").hidden = true;
    $("nav").hidden = false;
    show(state.view);
  }

  async function signIn(event) {
    event.preventDefault();
    const input = $("master-key");
    try {
      const session = await api("POST", "/ui/api/login", { master_key: input.value });
      input.value = "";
      showApp(session);
    } catch (err) {
      $("signin-error").textContent = err.message;
    }
  }

  async function signOut() {
    try { await api("POST", "/ui/api/logout", {}); } catch (_) { /* the cookie is gone either way */ }
    showSignin("Signed out.");
  }

  // --- views ---------------------------------------------------------------------------------

  const loaders = { keys: loadKeys, spend: loadSpend, requests: loadRequests, models: loadModels };

  function show(view) {
    state.view = view;
    for (const tab of document.querySelectorAll("nav .tab")) tab.classList.toggle("active", tab.dataset.view === view);
    for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== "view-" + view;
    loaders[view]().catch((err) => toast(err.message));
  }

  // keys -----------------------------------------------------------------------------------------

  async function loadKeys() {
    const params = new URLSearchParams({ page: state.keysPage, size: 10 });
    const search = $("key-search").value.trim();
    if (search) params.set("key_alias", search);
    const data = await api("GET", "/ui/api/keys?" + params);
    state.keysPages = data.total_pages;
    const body = $("keys-table").tBodies[0];
    body.replaceChildren();
    if (!data.keys.length) body.append(el("tr", {}, el("td", { colspan: 7, class: "empty", text: search ? "No key matches." : "No keys yet." })));
    for (const key of data.keys) body.append(keyRow(key));
    $("keys-page").textContent = `page ${data.current_page} of ${data.total_pages} · ${int(data.total_count)} keys`;
    $("keys-prev").disabled = data.current_page <= 1;
    $("keys-next").disabled = data.current_page >= data.total_pages;
  }

  function keyRow(key) {
    const limits = [key.rpm_limit != null ? `${int(key.rpm_limit)} rpm` : null, key.tpm_limit != null ? `${int(key.tpm_limit)} tpm` : null]
      .filter(Boolean).join(" · ") || "—";
    const budget = key.max_budget != null ? ` / ${usd(key.max_budget)}${key.budget_duration ? " per " + key.budget_duration : ""}` : "";
    const expires = key.expired ? el("span", { class: "badge expired", text: "expired " + when(key.expires) }) : when(key.expires);
    const meta = Object.keys(key.metadata || {}).length ? el("div", { class: "muted", text: JSON.stringify(key.metadata) }) : null;
    return el("tr", { "data-token": key.token },
      el("td", {}, el("strong", { text: key.key_alias || "(no alias)" }), meta),
      el("td", {}, el("code", { text: key.key_name })),
      el("td", { text: key.models.length ? key.models.join(", ") : "all" }),
      el("td", { class: "num", text: usd(key.spend) + budget }),
      el("td", { text: limits }),
      el("td", {}, expires),
      el("td", {}, el("div", { class: "row-actions" },
        el("button", { type: "button", class: "ghost small", "data-action": "edit", onclick: () => editKey(key), text: "Edit" }),
        el("button", { type: "button", class: "ghost small", "data-action": "regenerate", onclick: () => regenerateKey(key), text: "Regenerate" }),
        el("button", { type: "button", class: "danger small", "data-action": "revoke", onclick: () => revokeKey(key), text: "Revoke" }))));
  }

  function openKeyForm(key) {
    const form = $("key-form");
    form.reset();
    state.editing = key || null;
    $("key-form-title").textContent = key ? `Edit ${key.key_alias || key.key_name}` : "Create key";
    $("key-form-submit").textContent = key ? "Save" : "Create";
    $("key-form-error").textContent = "";
    if (key) {
      form.elements.key_alias.value = key.key_alias || "";
      form.elements.models.value = key.models.join(", ");
      form.elements.max_budget.value = key.max_budget ?? "";
      form.elements.budget_duration.value = key.budget_duration || "";
      form.elements.rpm_limit.value = key.rpm_limit ?? "";
      form.elements.tpm_limit.value = key.tpm_limit ?? "";
      form.elements.expires.value = key.expires || "";
      form.elements.metadata.value = Object.keys(key.metadata || {}).length ? JSON.stringify(key.metadata, null, 1) : "";
    }
    form.hidden = false;
    form.elements.key_alias.focus();
  }

  function formBody(form) {
    const f = form.elements;
    const body = {};
    const text = (name) => f[name].value.trim();
    const number = (name, whole) => {
      const value = text(name);
      if (value === "") return null;
      const n = Number(value);
      if (!Number.isFinite(n) || (whole && !Number.isInteger(n))) throw new Error(`${name}: expected a ${whole ? "whole " : ""}number`);
      return n;
    };
    const editing = Boolean(state.editing);
    const put = (name, value) => { if (value !== null && value !== "" || editing) body[name] = value === "" ? null : value; };
    put("key_alias", text("key_alias"));
    const models = text("models").split(",").map((m) => m.trim()).filter(Boolean);
    if (models.length || editing) body.models = models;
    put("max_budget", number("max_budget", false));
    put("budget_duration", text("budget_duration"));
    put("rpm_limit", number("rpm_limit", true));
    put("tpm_limit", number("tpm_limit", true));
    if (text("duration")) body.duration = text("duration");
    else put("expires", text("expires"));
    const meta = text("metadata");
    if (meta) {
      let parsed;
      try { parsed = JSON.parse(meta); } catch (_) { throw new Error("metadata: expected a JSON object"); }
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("metadata: expected a JSON object");
      body.metadata = parsed;
    } else if (editing) body.metadata = {};
    return body;
  }

  async function submitKey(event) {
    event.preventDefault();
    const form = $("key-form");
    try {
      const body = formBody(form);
      if (state.editing) {
        await api("POST", "/ui/api/keys/update", { key: state.editing.token, ...body });
        toast("Key saved.");
      } else {
        const made = await api("POST", "/ui/api/keys", body);
        showNewKey(made.key);
      }
      form.hidden = true;
      await loadKeys();
    } catch (err) {
      $("key-form-error").textContent = err.message;
    }
  }

  function showNewKey(value) {
    $("new-key-value").textContent = value;
    $("new-key").hidden = false;
  }

  function editKey(key) { openKeyForm(key); }

  async function regenerateKey(key) {
    if (!window.confirm(`Regenerate ${key.key_alias || key.key_name}? The current value stops working at once.`)) return;
    try {
      const made = await api("POST", "/ui/api/keys/regenerate", { key: key.token });
      showNewKey(made.key);
      await loadKeys();
    } catch (err) { toast(err.message); }
  }

  async function revokeKey(key) {
    if (!window.confirm(`Revoke ${key.key_alias || key.key_name}? Calls with it are refused from now on.`)) return;
    try {
      await api("POST", "/ui/api/keys/delete", { keys: [key.token] });
      hideNewKey();
      toast("Key revoked.");
      await loadKeys();
    } catch (err) { toast(err.message); }
  }

  // spend ----------------------------------------------------------------------------------------

  const PALETTE = ["#1a73e8", "#e8710a", "#188038", "#d93025", "#9334e6", "#12b5cb", "#f9ab00", "#5f6368"];
  const GROUP_FIELD = { api_key: "api_keys", model: "models", tag: "tags", deployment: "deployments" };
  const ITEM_FIELD = { api_key: "api_key", model: "model", tag: "tag", deployment: "deployment" };

  function groupLabel(groupBy, item) {
    if (groupBy === "api_key") return item.key_alias || (item.api_key ? item.api_key.slice(0, 10) + "…" : "master");
    return item[ITEM_FIELD[groupBy]] || "(none)";
  }

  async function loadSpend() {
    const groupBy = $("spend-group").value;
    const days = Number($("spend-days").value);
    const end = new Date();
    const start = new Date(end.getTime() - (days - 1) * 86400000);
    const params = new URLSearchParams({ group_by: groupBy, start_date: start.toISOString().slice(0, 10), end_date: end.toISOString().slice(0, 10) });
    const report = await api("GET", "/ui/api/spend/report?" + params);
    const totals = new Map();
    const dayList = [];
    for (let i = 0; i < days; i++) dayList.push(new Date(start.getTime() + i * 86400000).toISOString().slice(0, 10));
    const byDay = new Map(dayList.map((d) => [d, new Map()]));
    for (const day of report) {
      const bucket = byDay.get(day.group_by_day) || new Map();
      byDay.set(day.group_by_day, bucket);
      for (const item of day[GROUP_FIELD[groupBy]]) {
        const label = groupLabel(groupBy, item);
        bucket.set(label, (bucket.get(label) || 0) + item.total_spend);
        const t = totals.get(label) || { spend: 0, requests: 0, input: 0, output: 0 };
        t.spend += item.total_spend; t.requests += item.requests;
        t.input += item.total_input_tokens; t.output += item.total_output_tokens;
        totals.set(label, t);
      }
    }
    const ranked = [...totals.entries()].sort((a, b) => b[1].spend - a[1].spend);
    const colors = new Map(ranked.map(([label], i) => [label, PALETTE[i % PALETTE.length]]));
    // Whole-report totals from the per-day totals (a request with two tags counts once).
    let spend = 0, requests = 0;
    for (const day of report) { spend += day.total_spend ?? 0; requests += day.requests ?? 0; }
    if (groupBy === "tag") { spend = ranked.reduce((s, [, t]) => s + t.spend, 0); requests = ranked.reduce((s, [, t]) => s + t.requests, 0); }
    $("spend-total").textContent = usd(spend) + (groupBy === "tag" ? " (tagged)" : "");
    $("spend-requests").textContent = int(requests);
    drawChart([...byDay.keys()].sort(), byDay, colors);
    $("spend-legend").replaceChildren(...ranked.map(([label]) => {
      const item = el("span", { text: label });
      item.style.setProperty("--swatch", colors.get(label));
      return item;
    }));
    const body = $("spend-table").tBodies[0];
    body.replaceChildren();
    if (!ranked.length) body.append(el("tr", {}, el("td", { colspan: 5, class: "empty", text: "No spend in this period." })));
    for (const [label, t] of ranked) {
      body.append(el("tr", {}, el("td", { text: label }), el("td", { class: "num", text: usd(t.spend) }),
        el("td", { class: "num", text: int(t.requests) }), el("td", { class: "num", text: int(t.input) }), el("td", { class: "num", text: int(t.output) })));
    }
  }

  function drawChart(days, byDay, colors) {
    // Drawn at the container's own pixel width, so labels are never stretched or squeezed.
    const box = $("spend-chart");
    const width = Math.max(280, Math.floor(box.clientWidth - 16)), height = box.clientWidth < 500 ? 200 : 240;
    const left = 84, bottom = 22, top = 8;
    const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height });
    const max = Math.max(0, ...days.map((d) => [...byDay.get(d).values()].reduce((s, v) => s + v, 0)));
    const scale = max > 0 ? (height - bottom - top) / max : 0;
    const slot = (width - left) / Math.max(days.length, 1);
    for (const fraction of [0, 0.5, 1]) {
      const y = height - bottom - fraction * (height - bottom - top);
      chart.append(svg("line", { x1: left, x2: width, y1: y, y2: y, stroke: "#dde2e8" }));
      const label = svg("text", { x: left - 6, y: y + 3, "text-anchor": "end" });
      label.textContent = usd(max * fraction);
      chart.append(label);
    }
    days.forEach((day, i) => {
      let y = height - bottom;
      for (const [label, value] of byDay.get(day)) {
        const h = value * scale;
        if (h <= 0) continue;
        const bar = svg("rect", { x: left + i * slot + slot * 0.15, y: y - h, width: Math.max(slot * 0.7, 1), height: h, fill: colors.get(label) });
        const title = svg("title");
        title.textContent = `${day} · ${label}: ${usd(value)}`;
        bar.append(title);
        chart.append(bar);
        y -= h;
      }
      const every = Math.ceil(days.length / Math.max(2, Math.floor((width - left) / 60)));
      if (i % every === 0) {
        const tick = svg("text", { x: left + i * slot + slot / 2, y: height - 6, "text-anchor": "middle" });
        tick.textContent = day.slice(5);
        chart.append(tick);
      }
    });
    $("spend-chart").replaceChildren(chart);
  }

  // requests -------------------------------------------------------------------------------------

  async function loadRequests() {
    const params = new URLSearchParams({ limit: 100 });
    for (const [id, name] of [["req-alias", "key_alias"], ["req-model", "model"], ["req-status", "status"]]) {
      const value = $(id).value.trim();
      if (value) params.set(name, value);
    }
    const data = await api("GET", "/ui/api/requests?" + params);
    const body = $("requests-table").tBodies[0];
    body.replaceChildren();
    if (!data.data.length) body.append(el("tr", {}, el("td", { colspan: 8, class: "empty", text: "No requests match." })));
    for (const row of data.data) {
      body.append(el("tr", { "data-request": row.request_id },
        el("td", { text: when(row.time) }),
        el("td", { text: row.key_alias || "—" }),
        el("td", { text: row.model_group }),
        el("td", { text: row.deployment || "—" }),
        el("td", { class: "num", text: `${int(row.prompt_tokens)} / ${int(row.completion_tokens)}` }),
        el("td", { class: "num", text: usd(row.spend) }),
        el("td", { class: "num", text: `${int(Math.round(row.latency_ms))} ms` }),
        el("td", {}, el("span", { class: "badge " + row.status, text: row.status }))));
    }
  }

  // models ---------------------------------------------------------------------------------------

  async function loadModels() {
    const data = await api("GET", "/ui/api/models");
    const list = $("models-list");
    list.replaceChildren();
    const ms = (v) => (v == null ? "—" : `${v < 10 ? v.toFixed(1) : int(Math.round(v))} ms`);
    for (const group of data.data) {
      const rows = group.deployments.map((d) => el("tr", {},
        el("td", {}, el("code", { text: d.id })),
        el("td", { text: d.model + (d.location ? " @ " + d.location : "") }),
        el("td", {}, el("span", { class: "badge " + d.health, text: d.health.replace("_", " ") })),
        el("td", { class: "num", text: ms(d.latency_p50_ms) }),
        el("td", { class: "num", text: ms(d.latency_p99_ms) }),
        el("td", { class: "num", text: (d.error_rate * 100).toFixed(1) + "%" }),
        el("td", { class: "num", text: `${int(d.requests)} (${int(d.in_flight)} now)` }),
        el("td", { class: "muted", text: d.last_error ? `${d.last_error} at ${when(d.last_error_at)}` : "—" })));
      list.append(el("div", { class: "model card" }, el("h3", { text: group.model_name }),
        el("div", { class: "scroll" }, el("table", {},
          el("thead", {}, el("tr", {}, ...["Deployment", "Model", "Health", "p50", "p99", "Errors", "Attempts", "Last error"].map((h, i) => el("th", { class: i >= 3 && i <= 6 ? "num" : "", text: h })))),
          el("tbody", {}, ...rows)))));
    }
    if (!data.data.length) list.append(el("p", { class: "empty", text: "No models configured." }));
  }

  // --- wiring --------------------------------------------------------------------------------

  function debounce(fn, ms) {
    let timer;
    return () => { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }

  document.addEventListener("DOMContentLoaded", async () => {
    $("signin-form").addEventListener("submit", signIn);
    $("signout").addEventListener("click", signOut);
    for (const tab of document.querySelectorAll("nav .tab")) tab.addEventListener("click", () => show(tab.dataset.view));
    $("key-new").addEventListener("click", () => openKeyForm(null));
    $("key-form").addEventListener("submit", submitKey);
    $("key-form-cancel").addEventListener("click", () => { $("key-form").hidden = true; });
    $("new-key-done").addEventListener("click", hideNewKey);
    $("key-search").addEventListener("input", debounce(() => { state.keysPage = 1; loadKeys().catch((e) => toast(e.message)); }, 250));
    $("keys-prev").addEventListener("click", () => { state.keysPage = Math.max(1, state.keysPage - 1); loadKeys().catch((e) => toast(e.message)); });
    $("keys-next").addEventListener("click", () => { state.keysPage = Math.min(state.keysPages, state.keysPage + 1); loadKeys().catch((e) => toast(e.message)); });
    $("spend-group").addEventListener("change", () => loadSpend().catch((e) => toast(e.message)));
    $("spend-days").addEventListener("change", () => loadSpend().catch((e) => toast(e.message)));
    for (const id of ["req-alias", "req-model"]) $(id).addEventListener("input", debounce(() => loadRequests().catch((e) => toast(e.message)), 250));
    $("req-status").addEventListener("change", () => loadRequests().catch((e) => toast(e.message)));
    $("req-refresh").addEventListener("click", () => loadRequests().catch((e) => toast(e.message)));
    $("models-refresh").addEventListener("click", () => loadModels().catch((e) => toast(e.message)));
    try {
      const session = await api("GET", "/ui/api/session");
      if (session.signed_in) showApp(session);
      else showSignin();
    } catch (err) {
      showSignin(err.message);
    }
  });
})();
