// Draws the dashboard's charts with uPlot from the JSON each page embeds beside the chart.
(function () {
  "use strict";
  const COLORS = { deploy: "#1f7a3e", forced: "#dc6803", rollback: "#5b5f97", line: "#2456c7" };

  function readData(el) {
    return JSON.parse(document.getElementById(el.dataset.source).textContent);
  }

  function size(el) {
    const width = Math.max(280, Math.floor(el.clientWidth));
    return { width: width, height: width < 600 ? 220 : 280 };
  }

  function pointsOnly(color) {
    return { stroke: color, fill: color, width: 0, paths: () => null, points: { show: true, size: 9, fill: color, stroke: color } };
  }

  function timeline(el, data) {
    const only = (kind) => data.levels.map((level, i) => (data.kinds[i] === kind ? level : null));
    const versions = data.versions;
    const opts = Object.assign(size(el), {
      cursor: { points: { show: false } },
      scales: { y: { range: [-0.5, Math.max(0.5, versions.length - 0.5)] } },
      axes: [
        {},
        {
          size: 130,
          splits: () => versions.map((_, i) => i),
          values: (u, splits) => splits.map((i) => versions[i] || ""),
        },
      ],
      series: [
        {},
        { label: "live version", stroke: COLORS.line, width: 2, paths: uPlot.paths.stepped({ align: 1 }), points: { show: false },
          value: (u, v) => (v == null ? "–" : versions[v]) },
        Object.assign({ label: "deploy" }, pointsOnly(COLORS.deploy)),
        Object.assign({ label: "forced deploy" }, pointsOnly(COLORS.forced)),
        Object.assign({ label: "rollback" }, pointsOnly(COLORS.rollback)),
      ],
    });
    const plot = new uPlot(opts, [data.times, data.levels, only("deploy"), only("forced"), only("rollback")], el);
    plot.over.style.cursor = "pointer";
    plot.over.addEventListener("click", () => {
      const i = plot.cursor.idx;
      if (i != null && versions[data.levels[i]]) {
        window.location.href = "/versions/" + encodeURIComponent(versions[data.levels[i]]);
      }
    });
    return plot;
  }

  function runs(el, data) {
    const opts = Object.assign(size(el), {
      scales: { y: { range: [0, 1] } },
      series: [
        {},
        { label: "accuracy", stroke: "#2456c7", width: 2, points: { show: true, size: 6 } },
        { label: "AUC", stroke: "#1f7a3e", width: 2, points: { show: true, size: 6 } },
        { label: "F1", stroke: "#dc6803", width: 2, points: { show: true, size: 6 } },
      ],
    });
    return new uPlot(opts, [data.times, data.accuracy, data.roc_auc, data.f1_score], el);
  }

  const DAY_STEPS = [1, 2, 7, 14, 30, 91, 182, 365].map((days) => days * 86400);
  const isoDay = (seconds) => new Date(seconds * 1000).toISOString().slice(0, 10);

  function realised(metric) {
    return function (el, data) {
      const name = metric === "auc" ? "AUC" : "accuracy";
      const opts = Object.assign(size(el), {
        padding: [12, 36, 0, 0], // room for the last date's label
        scales: { x: { time: true }, y: { range: [0, 1] } },
        axes: [
          { incrs: DAY_STEPS, values: (u, splits) => splits.map(isoDay) },
          {},
        ],
        series: [
          { label: "as-of", value: (u, v) => (v == null ? "–" : isoDay(v)) },
          { label: "production " + name, stroke: "#2456c7", width: 2, spanGaps: true, points: { show: true, size: 6 } },
          { label: "shadow " + name, stroke: "#dc6803", width: 2, dash: [6, 4], spanGaps: true, points: { show: true, size: 6 } },
        ],
      });
      return new uPlot(opts, [data.times, data["production_" + metric], data["shadow_" + metric]], el);
    };
  }

  const DRAW = { timeline: timeline, runs: runs, "monitoring-accuracy": realised("accuracy"), "monitoring-auc": realised("auc") };

  function drawAll(root) {
    (root || document).querySelectorAll("[data-chart]").forEach((el) => {
      if (el.dataset.drawn) return;
      const draw = DRAW[el.dataset.chart];
      if (!draw) return;
      el.dataset.drawn = "1";
      const plot = draw(el, readData(el));
      new ResizeObserver(() => {
        const next = size(el);
        if (next.width !== plot.width) plot.setSize(next);
      }).observe(el);
    });
  }

  window.tradingEngineCharts = { drawAll: drawAll };
  document.addEventListener("DOMContentLoaded", () => drawAll());
  document.addEventListener("htmx:afterSettle", () => drawAll());
})();
