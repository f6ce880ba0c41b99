// The overview's charts: figures from the page's JSON block (#overview-data), drawn with
// uPlot into each .chart element. The tables beside them hold the same figures.
"use strict";

(() => {
  const COLORS = {
    volume: "rgba(31, 95, 191, 0.35)",
    volumeLine: "#1f5fbf",
    negative: "#a0101e",
    positive: "#2f6b3a",
    satisfaction: "#16202e",
  };
  const HEIGHT = 220;

  const utc = (seconds) => uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC");
  const whole = (self, ticks) => ticks.map((tick) => (Number.isInteger(tick) ? String(tick) : ""));
  const percent = (self, ticks) => ticks.map((tick) => `${tick}%`);

  // Half a period either side, so the first and last bars are drawn whole.
  const padded = (step) => ({ time: true, range: (self, min, max) => [min - step / 2, max + step / 2] });

  function volumeOptions(width, step) {
    return {
      width,
      height: HEIGHT,
      tzDate: utc,
      scales: { x: padded(step), n: { range: (self, min, max) => [0, Math.max(1, max)] }, "%": { range: [0, 100] } },
      series: [
        {},
        { label: "Mentions", scale: "n", fill: COLORS.volume, stroke: COLORS.volumeLine, paths: uPlot.paths.bars({ size: [0.7, 40] }), points: { show: false } },
        { label: "Negative %", scale: "%", stroke: COLORS.negative, width: 2, spanGaps: true },
        { label: "Positive %", scale: "%", stroke: COLORS.positive, width: 2, spanGaps: true, dash: [6, 4] },
      ],
      axes: [
        {},
        { scale: "n", values: whole, size: 50 },
        { scale: "%", side: 1, values: percent, grid: { show: false }, size: 50 },
      ],
    };
  }

  function satisfactionOptions(width, step) {
    return {
      width,
      height: HEIGHT,
      tzDate: utc,
      scales: { x: padded(step), y: { range: [-100, 100] } },
      series: [
        {},
        { label: "Satisfaction", stroke: COLORS.satisfaction, width: 2, spanGaps: true, points: { show: true, size: 6 } },
      ],
      axes: [{}, { values: (self, ticks) => ticks.map((tick) => (tick > 0 ? `+${tick}` : String(tick))), size: 50 }],
    };
  }

  function draw(element, figures) {
    const series = figures[element.dataset.period];
    if (!series) {
      return null;
    }
    const width = Math.max(element.clientWidth, 200);
    const step = series.x.length > 1 ? series.x[1] - series.x[0] : 86400;
    if (element.dataset.kind === "satisfaction") {
      return new uPlot(satisfactionOptions(width, step), [series.x, series.satisfaction], element);
    }
    const columns = [series.x, series.total, series.negative, series.positive];
    return new uPlot(volumeOptions(width, step), columns, element);
  }

  function start() {
    const block = document.getElementById("overview-data");
    if (!block || typeof uPlot === "undefined") {
      return;
    }
    const data = JSON.parse(block.textContent);
    const charts = [];
    for (const element of document.querySelectorAll(".chart[data-brand]")) {
      const figures = data[element.dataset.brand];
      const chart = figures && draw(element, figures);
      if (chart) {
        charts.push([element, chart]);
      }
    }
    // Charts follow the page's width (a phone turned, a window resized).
    const resized = new ResizeObserver(() => {
      for (const [element, chart] of charts) {
        const width = Math.max(element.clientWidth, 200);
        if (width !== chart.width) {
          chart.setSize({ width, height: HEIGHT });
        }
      }
    });
    for (const [element] of charts) {
      resized.observe(element);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
