// The evctl dashboard: cards drawn from /devices and /devices/{id}/map, values kept live by
// /events, charts from /devices/{id}/history, writes through the API with the token kept in
// this tab's session storage. Text from devices is only ever set as text, never as markup.
"use strict";

const TOKEN_KEY = "evctl-token";
const ROLE_TITLES = {
  grid_power: "Grid", pv_power: "PV", battery_power: "Battery", battery_soc: "Battery charge",
  charging_power: "Charging", load_power: "Load", import_energy: "Imported", export_energy: "Exported",
};
const KEY_VALUES = 6;
const devices = new Map();

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

async function api(path, options) {
  const response = await fetch(path, Object.assign({ cache: "no-store" }, options));
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (_) { body = { error: text }; }
  return { status: response.status, ok: response.ok, body };
}

function formatNumber(value) {
  if (typeof value !== "number") return String(value);
  const abs = Math.abs(value);
  const digits = abs >= 1000 || Number.isInteger(value) ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toLocaleString(undefined, { maximumFractionDigits: digits });
}

function display(register, value) {
  if (value === null || value === undefined) return "—";
  const option = register.options.find((o) => String(o.value) === String(value));
  if (option) return option.label;
  if (register.format === "hhmm" && typeof value === "number") {
    const h = Math.floor(value / 100), m = value % 100;
    return String(h).padStart(2, "0") + ":" + String(m).padStart(2, "0");
  }
  if (Array.isArray(value)) return value.join(", ");
  const unit = register.unit ? " " + register.unit : "";
  return formatNumber(value) + unit;
}

function ago(seconds) {
  if (seconds === null || seconds === undefined) return "never";
  if (seconds < 90) return Math.round(seconds) + " s ago";
  if (seconds < 5400) return Math.round(seconds / 60) + " min ago";
  return Math.round(seconds / 3600) + " h ago";
}

function keyRegisters(map) {
  const all = map.groups.flatMap((g) => g.registers).filter((r) => r.readable);
  const withRole = all.filter((r) => r.role);
  const rest = all.filter((r) => !r.role && r.unit && (r.kind === "measurement" || r.kind === "counter"));
  const states = all.filter((r) => !r.role && r.kind === "state" && r.options.length);
  return withRole.concat(states.slice(0, 1), rest).slice(0, KEY_VALUES);
}

function askToken() {
  const dialog = document.getElementById("token-dialog");
  const input = document.getElementById("token-input");
  input.value = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      const token = dialog.returnValue === "ok" ? input.value.trim() : "";
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
      resolve(token || null);
    }, { once: true });
    dialog.showModal();
    input.focus();
  });
}

async function send(path, body, result) {
  result.className = "result";
  result.textContent = "sending…";
  for (let attempt = 0; attempt < 2; attempt++) {
    let token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) token = await askToken();
    if (!token) { result.textContent = "not sent: no token"; return; }
    const answer = await api(path, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer " + token },
      body: JSON.stringify(body),
    });
    if (answer.status === 401) { sessionStorage.removeItem(TOKEN_KEY); continue; }
    if (answer.ok) {
      const confirmations = (answer.body.confirmations || []).map((c) =>
        c.confirmed ? c.read_register + " reads back " + c.read : c.read_register + " not confirmed: " + c.read);
      result.className = "result ok";
      result.textContent = "done" + (confirmations.length ? ": " + confirmations.join("; ") : "");
    } else {
      const causes = (answer.body && answer.body.causes) || [];
      result.className = "result error";
      result.textContent = ((answer.body && answer.body.error) || "HTTP " + answer.status) +
        (causes.length ? ": " + causes.join(": ") : "");
    }
    return;
  }
  result.className = "result error";
  result.textContent = "the token was refused";
}

function writeForm(device, register) {
  const id = "w-" + device.id + "-" + register.name;
  let input;
  if (register.options.length) {
    input = el("select", { id, name: register.name });
    for (const o of register.options) input.append(el("option", { value: o.value, text: o.label }));
  } else {
    const rule = register.write || {};
    const numeric = (v) => v !== null && v !== undefined && /^-?[0-9.]+$/.test(v);
    input = el("input", {
      id, name: register.name, inputmode: "decimal", size: 8,
      type: register.format === "hhmm" ? "text" : "number",
      min: numeric(rule.min) ? rule.min : null, max: numeric(rule.max) ? rule.max : null,
      step: rule.step || "any", required: true,
    });
  }
  const result = el("p", { class: "result", role: "status", "aria-live": "polite" });
  const form = el("form", { class: "control", "data-write": register.name },
    el("label", { for: id, text: register.title + (register.unit ? " (" + register.unit + ")" : "") }),
    input, el("button", { type: "submit", text: "Write" }), result);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send("/devices/" + encodeURIComponent(device.id) + "/registers", { [register.name]: input.value }, result);
  });
  return form;
}

function actionForm(device, action) {
  const inputs = action.params.map((p) => {
    const id = "a-" + device.id + "-" + action.name + "-" + p.name;
    const input = el("input", {
      id, name: p.name, size: 6, type: p.type === "int" || p.type === "number" || p.type === "percent" ? "number" : "text",
      min: p.min, max: p.max, step: p.step || "any", required: !p.optional,
    });
    return { p, input, label: el("label", { for: id, text: p.name }, " ", input) };
  });
  const result = el("p", { class: "result", role: "status", "aria-live": "polite" });
  const form = el("form", { class: "control", "data-action": action.name },
    el("span", { text: action.name + (action.description ? ": " + action.description : "") }),
    inputs.length ? el("div", { class: "params" }, ...inputs.map((i) => i.label)) : null,
    el("button", { type: "submit", text: "Run" }), result);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = {};
    for (const { p, input } of inputs) if (input.value !== "") body[p.name] = input.value;
    send("/devices/" + encodeURIComponent(device.id) + "/actions/" + encodeURIComponent(action.name), body, result);
  });
  return form;
}

function drawChart(svg, points, unit) {
  svg.textContent = "";
  if (points.length < 2) {
    svg.append(svgEl("text", { x: 4, y: 14 }, "collecting history…"));
    return;
  }
  const t0 = points[0][0], t1 = points[points.length - 1][0];
  let lo = Math.min(...points.map((p) => p[1])), hi = Math.max(...points.map((p) => p[1]));
  if (hi === lo) { hi += 1; lo -= 1; }
  const w = 300, h = 100;
  const xy = points.map(([t, v]) =>
    ((t - t0) / Math.max(t1 - t0, 1) * w).toFixed(1) + "," + (h - (v - lo) / (hi - lo) * (h - 16) - 8).toFixed(1));
  svg.append(svgEl("polyline", { points: xy.join(" ") }));
  svg.append(svgEl("text", { x: 2, y: 10 }, formatNumber(hi) + (unit ? " " + unit : "")));
  svg.append(svgEl("text", { x: 2, y: h - 1 }, formatNumber(lo) + (unit ? " " + unit : "")));
}

function svgEl(tag, attrs, text) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

async function toggleChart(device, register, row) {
  const next = row.nextElementSibling;
  if (next && next.classList.contains("chart-row")) { next.remove(); device.charts.delete(register.name); return; }
  const svg = svgEl("svg", { class: "chart", viewBox: "0 0 300 100", preserveAspectRatio: "none", role: "img",
    "aria-label": "history of " + register.title });
  const chartRow = el("tr", { class: "chart-row" }, el("td", { colspan: 2 }, svg));
  row.after(chartRow);
  const answer = await api("/devices/" + encodeURIComponent(device.id) + "/history?register=" + encodeURIComponent(register.name));
  const points = answer.ok ? answer.body.points : [];
  device.charts.set(register.name, {
    svg, points, register,
    capacity: answer.ok ? answer.body.capacity : 0, spacing: answer.ok ? answer.body.spacing_ms : 0,
  });
  drawChart(svg, points, register.unit);
}

function buildCard(summary, map) {
  const device = { id: summary.id, map, cells: new Map(), charts: new Map() };
  const state = el("span", { class: "state" });
  const meta = el("p", { class: "meta" });
  const error = el("p", { class: "error", role: "alert" });
  const key = el("dl", { class: "key" });
  for (const r of keyRegisters(map)) {
    const dd = el("dd", { "data-register": r.name, text: "—" });
    key.append(el("dt", { text: r.title }), dd);
    device.cells.set(r.name, [dd]);
  }
  const tables = el("div");
  for (const group of map.groups) {
    const readable = group.registers.filter((r) => r.readable);
    if (!readable.length) continue;
    const table = el("table", {}, el("caption", { text: group.name || "Other" }));
    for (const r of readable) {
      const cell = el("td", { class: "value", "data-register": r.name, text: "—" });
      const chartable = (r.kind === "measurement" || r.kind === "counter" || r.kind === "setting") && !r.options.length && r.format !== "hhmm";
      const name = chartable
        ? el("button", { class: "link", type: "button", "aria-label": "chart " + r.title, text: r.title })
        : el("span", { text: r.title });
      const row = el("tr", {}, el("th", { scope: "row" }, name), cell);
      if (chartable) name.addEventListener("click", () => toggleChart(device, r, row));
      table.append(row);
      device.cells.set(r.name, (device.cells.get(r.name) || []).concat([cell]));
    }
    tables.append(table);
  }
  const writable = map.groups.flatMap((g) => g.registers).filter((r) => r.writable);
  const controls = el("div");
  for (const r of writable) controls.append(writeForm(device, r));
  for (const a of map.actions) controls.append(actionForm(device, a));
  device.node = el("article", { class: "card", id: "device-" + summary.id, "aria-labelledby": "title-" + summary.id },
    el("h3", { id: "title-" + summary.id }, summary.id, state),
    el("p", { class: "model", text: map.manufacturer + " " + map.model + " · " + summary.map + " · " + summary.address }),
    meta, error, key,
    el("details", {}, el("summary", { text: "All registers" }), tables),
    writable.length || map.actions.length ? el("details", { class: "controls" }, el("summary", { text: "Control" }), controls) : null);
  device.state = state; device.meta = meta; device.error = error;
  return device;
}

function update(device, body) {
  device.state.textContent = body.available ? "online" : "offline";
  device.state.className = "state " + (body.available ? "online" : "offline");
  device.meta.textContent = "last poll " + ago(body.age_seconds) + " · every " + body.interval_seconds + " s";
  device.error.textContent = body.last_error || "";
  device.error.hidden = !body.last_error;
  const values = body.values || {};
  const registers = device.map.groups.flatMap((g) => g.registers);
  const stale = new Set(body.stale || []);
  for (const r of registers) {
    const cells = device.cells.get(r.name);
    if (!cells) continue;
    const text = display(r, values[r.name]) + (stale.has(r.name) ? " (stale)" : "");
    for (const cell of cells) {
      if (cell.textContent !== text) {
        cell.textContent = text;
        cell.classList.remove("changed"); void cell.offsetWidth; cell.classList.add("changed");
      }
    }
    const chart = device.charts.get(r.name);
    if (chart && typeof values[r.name] === "number" && body.available && !stale.has(r.name)) {
      const at = Date.parse(body.read_at) || Date.now();
      const last = chart.points[chart.points.length - 1];
      if (last && at - last[0] < chart.spacing * 0.9) continue;
      chart.points.push([at, values[r.name]]);
      while (chart.capacity && chart.points.length > chart.capacity) chart.points.shift();
      drawChart(chart.svg, chart.points, r.unit);
    }
  }
}

async function refreshSite() {
  const answer = await api("/site");
  if (!answer.ok) return;
  const list = document.getElementById("site-totals");
  list.textContent = "";
  let any = false;
  for (const name of Object.keys(ROLE_TITLES)) {
    const total = answer.body[name];
    if (!total) continue;
    any = true;
    list.append(el("div", { "data-role": name }, el("dt", { text: ROLE_TITLES[name] || name }),
      el("dd", { text: formatNumber(total.value) + " " + total.unit })));
  }
  document.getElementById("site-empty").hidden = any;
}

async function start() {
  const status = document.getElementById("connection");
  const list = await api("/devices");
  if (!list.ok) { status.textContent = "cannot list devices: HTTP " + list.status; return; }
  const container = document.getElementById("devices");
  for (const summary of list.body.devices) {
    const [map, current] = await Promise.all([
      api("/devices/" + encodeURIComponent(summary.id) + "/map"),
      api("/devices/" + encodeURIComponent(summary.id)),
    ]);
    if (!map.ok) continue;
    const device = buildCard(summary, map.body);
    devices.set(summary.id, device);
    container.append(device.node);
    update(device, current.ok ? current.body : summary);
  }
  refreshSite();
  const events = new EventSource("/events");
  let pending = null;
  events.addEventListener("open", () => { status.textContent = "live"; });
  events.addEventListener("error", () => { status.textContent = "reconnecting…"; });
  events.addEventListener("device", (event) => {
    const body = JSON.parse(event.data);
    const device = devices.get(body.id);
    if (device) update(device, body);
    if (!pending) pending = setTimeout(() => { pending = null; refreshSite(); }, 1000);
  });
  document.documentElement.dataset.ready = "true";
}

start();
