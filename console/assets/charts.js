// Line charts in SVG. The SVG draws only the lines; the labels are HTML
// beside it, so they stay readable however narrow the chart is drawn.

const NS = "http://www.w3.org/2000/svg";
const W = 600;
const H = 140;

function svg(tag, attrs) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

// valueOf is a series' value in bucket b: its own function's, or b's field.
const valueOf = (s, b) => Number(s.value ? s.value(b) : b[s.key]) || 0;

// chart draws series [{key, label, cls, value?, inTotal?}] of buckets;
// unit names the values. With total, the legend starts with that label
// and the sum of the series marked inTotal.
export function chart(title, buckets, series, unit, format, total) {
  const peak = Math.max(0, ...buckets.flatMap((b) => series.map((s) => valueOf(s, b))));
  const max = peak > 0 ? peak : 1; // an empty chart keeps a scale
  const n = Math.max(1, buckets.length - 1);
  const pic = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", class: "plot" });
  pic.setAttribute("aria-label", title);
  for (let i = 1; i <= 3; i++) {
    const y = (H * i) / 4;
    pic.append(svg("line", { x1: 0, x2: W, y1: y, y2: y, class: "grid", "vector-effect": "non-scaling-stroke" }));
  }
  const totals = {};
  for (const s of series) {
    let sum = 0;
    let peak = 0;
    const pts = buckets.map((b, i) => {
      const v = valueOf(s, b);
      sum += v;
      peak = Math.max(peak, v);
      return `${((i * W) / n).toFixed(1)},${(H - (v / max) * (H - 4) - 2).toFixed(1)}`;
    });
    totals[s.key] = { sum, peak };
    pic.append(svg("polyline", { points: pts.join(" "), class: "line " + s.cls, "vector-effect": "non-scaling-stroke" }));
  }
  const figure = document.createElement("figure");
  figure.className = "chart";
  const cap = document.createElement("figcaption");
  cap.textContent = title;
  const axis = document.createElement("div");
  axis.className = "axis";
  const first = buckets[0] ? new Date(buckets[0].date) : null;
  const last = buckets.length ? new Date(buckets[buckets.length - 1].date) : null;
  axis.append(span(first ? first.toLocaleString() : ""), span(`max ${format(max)} ${unit}`), span(last ? last.toLocaleString() : ""));
  const legend = document.createElement("ul");
  legend.className = "legend";
  if (total) {
    const sum = series.filter((s) => s.inTotal).reduce((n, s) => n + totals[s.key].sum, 0);
    const li = document.createElement("li");
    li.className = "s-total";
    li.dataset.series = "total";
    li.dataset.sum = String(sum);
    li.textContent = `${total}: ${format(sum)} =`;
    legend.append(li);
  }
  for (const s of series) {
    const li = document.createElement("li");
    li.className = s.cls;
    li.dataset.series = s.key;
    const t = totals[s.key];
    li.dataset.sum = String(t.sum);
    li.textContent = s.summary === "peak" ? `${s.label}: peak ${format(t.peak)} ${unit}` : `${s.label}: ${format(t.sum)}`;
    if (total && s.inTotal && s !== series.filter((x) => x.inTotal).at(-1)) li.textContent += " +";
    legend.append(li);
  }
  figure.append(cap, pic, axis, legend);
  return figure;
}

function span(text) {
  const s = document.createElement("span");
  s.textContent = text;
  return s;
}

// callSeries split the calls so that they add up: OK + Errors + Declined
// are all the calls (OK and Errors are the accepted ones); Exceptions are
// some of the Errors, drawn apart.
export const callSeries = [
  { key: "ok", label: "OK", cls: "s-ok", inTotal: true, value: (b) => (Number(b.total_accepted) || 0) - (Number(b.total_errors) || 0) },
  { key: "total_errors", label: "Errors", cls: "s-errors", inTotal: true },
  { key: "total_declined", label: "Declined", cls: "s-declined", inTotal: true },
  { key: "total_exceptions", label: "of the errors, exceptions", cls: "s-exceptions" },
];

export const runtimeSeries = [
  { key: "avg_runtime", label: "Average runtime", cls: "s-avg", summary: "peak" },
  { key: "max_runtime", label: "Maximum runtime", cls: "s-max", summary: "peak" },
];
