/* The managers' dashboard: reads this service's API with the bearer token given at sign-in.
   Every URL is relative, so the page works served directly (/dashboard) and behind the gateway
   (/analytics/dashboard, the prefix stripped by nginx). */
"use strict";

const TOKEN_KEY = "pelanggan.analytics.token";
const charts = {};
window.pelangganCharts = charts;  // for the browser test and for the curious
window.dashboardState = "starting";

const $ = (id) => document.getElementById(id);
const money = (v) => Number(v);
const short = (v) => {
  const n = Math.abs(v);
  if (n >= 1e9) return (v / 1e9).toFixed(1) + " bn";
  if (n >= 1e6) return (v / 1e6).toFixed(1) + " m";
  if (n >= 1e3) return (v / 1e3).toFixed(0) + " k";
  return String(Math.round(v));
};

class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

async function api(path) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const response = await fetch(path, { headers: { Authorization: "Bearer " + token, Accept: "application/json" } });
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
    throw new ApiError(response.status, detail);
  }
  return response.json();
}

function show(message) {
  const box = $("message");
  box.textContent = message;
  box.hidden = !message;
}

function signIn(reason) {
  $("charts").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  if (reason) show(reason);
  window.dashboardState = "signed-out";
}

function chart(id, option) {
  const element = $(id);
  const instance = charts[id] || echarts.init(element, null, { renderer: "canvas" });
  instance.setOption(option, true);
  charts[id] = instance;
  return instance;
}

function empty(id, text) {
  chart(id, { title: { text: text || "No data yet", left: "center", top: "middle",
                       textStyle: { color: "#9ca3af", fontSize: 14, fontWeight: "normal" } }, series: [] });
}

function partnerships(top, bottom) {
  const rows = [...top.items, ...bottom.items.filter((b) => !top.items.some((t) => t.customer_id === b.customer_id))];
  rows.sort((a, b) => money(a.net_contribution) - money(b.net_contribution));
  if (!rows.length) return empty("partnerships");
  chart("partnerships", {
    grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    xAxis: { type: "value", axisLabel: { formatter: short } },
    yAxis: { type: "category", data: rows.map((r) => r.customer_id.slice(0, 12) + (r.segment ? " · " + r.segment : "")) },
    series: [{ type: "bar", name: "net contribution",
               data: rows.map((r) => ({ value: money(r.net_contribution),
                                        itemStyle: { color: money(r.net_contribution) < 0 ? "#b91c1c" : "#0f766e" } })) }],
  });
}

function segments(data) {
  const items = data.items.filter((s) => s.months.length);
  if (!items.length) return empty("segments");
  const months = [...new Set(items.flatMap((s) => s.months.map((m) => m.month)))].sort();
  chart("segments", {
    tooltip: { trigger: "axis", valueFormatter: short },
    legend: { type: "scroll", bottom: 0 },
    grid: { left: 8, right: 16, top: 16, bottom: 40, containLabel: true },
    xAxis: { type: "category", data: months },
    yAxis: { type: "value", axisLabel: { formatter: short } },
    series: items.map((s) => {
      const byMonth = Object.fromEntries(s.months.map((m) => [m.month, money(m.net_contribution)]));
      return { type: "line", name: s.key || "(unknown)", showSymbol: false, data: months.map((m) => byMonth[m] ?? 0) };
    }),
  });
}

function demand(trends, detected) {
  if (!trends.series.length) return empty("demand");
  const flagged = {};
  for (const d of detected.items) {
    if (d.granularity !== trends.granularity) continue;
    flagged[d.segment + " · " + d.category] = d.direction;
  }
  const rows = trends.series.map((s) => s.segment + " · " + s.category);
  const labels = rows.map((r) => (flagged[r] === "emerging" ? "▲ " : flagged[r] === "declining" ? "▼ " : "") + r);
  const cells = [];
  let max = 1;
  trends.series.forEach((s, y) => s.quantity.forEach((q, x) => { cells.push([x, y, q]); max = Math.max(max, q); }));
  const marks = [];
  trends.series.forEach((s, y) => {
    const direction = flagged[rows[y]];
    if (direction) marks.push({ value: [trends.periods.length - 1, y], direction });
  });
  chart("demand", {
    tooltip: { formatter: (p) => p.seriesType === "heatmap"
      ? `${labels[p.value[1]]}<br>${trends.periods[p.value[0]]}: ${p.value[2]}` : `${labels[p.value[1]]}: ${p.data.direction}` },
    grid: { left: 8, right: 24, top: 8, bottom: 64, containLabel: true },
    xAxis: { type: "category", data: trends.periods, splitArea: { show: true } },
    yAxis: { type: "category", data: labels, splitArea: { show: true } },
    visualMap: { min: 0, max, calculable: true, orient: "horizontal", left: "center", bottom: 0,
                 inRange: { color: ["#f0fdfa", "#5eead4", "#0f766e"] } },
    series: [
      { type: "heatmap", name: "quantity", data: cells, progressive: 0 },
      { type: "scatter", name: "detected trends", data: marks, symbol: "triangle", symbolSize: 14,
        symbolRotate: (v, p) => (p.data.direction === "declining" ? 180 : 0),
        itemStyle: { color: (p) => (p.data.direction === "declining" ? "#b91c1c" : "#ea580c") }, z: 5 },
    ],
  });
}

function cohorts(data) {
  const rows = data.cohorts.filter((c) => c.customers > 0);
  if (!rows.length) return empty("cohorts");
  const width = Math.max(...rows.map((c) => c.retention.length));
  const cells = [];
  rows.forEach((c, y) => c.retention.forEach((r, x) => cells.push([x, y, Math.round(r * 1000) / 10])));
  chart("cohorts", {
    tooltip: { formatter: (p) => `${rows[p.value[1]].cohort} (${rows[p.value[1]].customers} customers), month +${p.value[0]}: ${p.value[2]} %` },
    grid: { left: 8, right: 16, top: 8, bottom: 56, containLabel: true },
    xAxis: { type: "category", data: [...Array(width).keys()].map((k) => "+" + k) },
    yAxis: { type: "category", data: rows.map((c) => c.cohort) },
    visualMap: { min: 0, max: 100, orient: "horizontal", left: "center", bottom: 0, inRange: { color: ["#fef3c7", "#0f766e"] } },
    series: [{ type: "heatmap", name: "retention %", data: cells, label: { show: width <= 13, fontSize: 10 } }],
  });
}

function rfm(data) {
  if (!data.groups.length) return empty("rfm", "Not scored yet");
  const colours = { champions: "#0f766e", loyal: "#14b8a6", potential: "#a3e635", at_risk: "#f97316",
                    hibernating: "#a8a29e", lost: "#6b7280" };
  chart("rfm", {
    tooltip: { trigger: "item" },
    legend: { bottom: 0 },
    series: [{ type: "pie", radius: ["40%", "70%"], name: "customers",
               data: data.groups.map((g) => ({ name: g.group.replace("_", " "), value: g.customers,
                                               itemStyle: { color: colours[g.group] } })) }],
  });
}

function cases(data) {
  if (!data.months.length) return empty("cases");
  chart("cases", {
    tooltip: { trigger: "axis" },
    legend: { bottom: 0 },
    grid: { left: 8, right: 8, top: 16, bottom: 40, containLabel: true },
    xAxis: { type: "category", data: data.months.map((m) => m.month) },
    yAxis: [{ type: "value", name: "cases" }, { type: "value", name: "breach rate", max: 100, axisLabel: { formatter: "{value} %" } }],
    series: [
      { type: "bar", name: "received", data: data.months.map((m) => m.received), itemStyle: { color: "#0f766e" } },
      { type: "line", name: "SLA breach rate", yAxisIndex: 1,
        data: data.months.map((m) => (m.breach_rate === null ? 0 : Math.round(m.breach_rate * 1000) / 10)),
        itemStyle: { color: "#b91c1c" } },
    ],
  });
}

function leaderboard(data) {
  $("leaderboard-title").textContent = `Leaderboard of ${data.period} (live, weighted points)`;
  const leaders = data.leaders.slice(0, 10).reverse();
  if (!leaders.length) return empty("leaderboard", "No sales this period yet");
  chart("leaderboard", {
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
    xAxis: { type: "value", axisLabel: { formatter: short } },
    yAxis: { type: "category", data: leaders.map((l) => `${l.rank}. ${l.name || l.employee_id}`) },
    series: [{ type: "bar", name: "weighted points", data: leaders.map((l) => money(l.weighted_points)),
               itemStyle: { color: "#0f766e" } }],
  });
}

async function load() {
  window.dashboardState = "loading";
  show("");
  try {
    const [top, bottom, segs, trends, detected, cohortData, rfmData, caseData, board] = await Promise.all([
      api("profitability/customers?sort=net_contribution&order=desc&limit=10"),
      api("profitability/customers?sort=net_contribution&order=asc&limit=10"),
      api("profitability/segments"),
      api("trends?granularity=month"),
      api("trends/detected?limit=200"),
      api("cohorts?months=12"),
      api("rfm?limit=1"),
      api("cases/summary"),
      api("leaderboard"),
    ]);
    $("sign-in").hidden = true;
    $("charts").hidden = false;
    $("sign-out").hidden = false;
    partnerships(top, bottom);
    segments(segs);
    demand(trends, detected);
    cohorts(cohortData);
    rfm(rfmData);
    cases(caseData);
    leaderboard(board);
    $("as-of").textContent = "as of " + new Date().toLocaleString();
    window.dashboardState = "ready";
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      signIn("The token was refused (401: " + error.message + "). Paste a valid, unexpired token.");
    } else if (error instanceof ApiError && error.status === 403) {
      sessionStorage.removeItem(TOKEN_KEY);
      signIn("This token may not read analytics (403): it needs the role manager, analyst or admin.");
    } else {
      show("Could not load the dashboard: " + error.message + ". Retrying in 30 s.");
      window.dashboardState = "error";
      setTimeout(load, 30000);
    }
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
    $("token").value = "";
    load();
  });
  $("sign-out").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); signIn(""); });
  window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
  if (sessionStorage.getItem(TOKEN_KEY)) load(); else signIn("");
  setInterval(() => { if (window.dashboardState === "ready") load(); }, 5 * 60 * 1000);
});
