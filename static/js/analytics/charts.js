/* Analytics charts (templates/analytics/_macros.html, admin/_overview_chart.html).
 *
 * Every canvas[data-chart] is drawn with Chart.js (static/vendor/chartjs): its type
 * ("line" or "bar"), data-labels (the x axis) and either data-values with
 * data-y-label (one series) or data-datasets ([{label, values, type, colour, axis}];
 * axis "y1" is a second scale on the right). Colours are the page's CSS custom
 * properties (data-colour names one, e.g. "accent-2-solid"), read again when the
 * system switches between light and dark. Each chart's figures are also in the table
 * beside it, so the canvas is only a picture (role="img" with its caption as label).
 */
(function () {
  "use strict";
  if (typeof window.Chart === "undefined") return;
  var canvases = document.querySelectorAll("canvas[data-chart]");
  if (!canvases.length) return;

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue("--" + name).trim();
  }

  function parse(value, fallback) {
    try { return JSON.parse(value); } catch (e) { return fallback; }
  }

  function datasetsOf(canvas) {
    var many = parse(canvas.dataset.datasets || "null", null);
    if (many) return many;
    return [{
      label: canvas.dataset.yLabel || "",
      values: parse(canvas.dataset.values || "[]", []),
      colour: canvas.dataset.colour || "accent-2-solid",
      axis: "y",
    }];
  }

  var reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function config(canvas) {
    var type = canvas.dataset.chart;
    var labels = parse(canvas.dataset.labels || "[]", []);
    var sets = datasetsOf(canvas);
    var text = cssVar("text"), muted = cssVar("muted"), grid = cssVar("border");
    var twoAxes = sets.some(function (s) { return s.axis === "y1"; });
    var scales = {
      x: {
        ticks: { color: muted, maxRotation: 0, autoSkip: true, autoSkipPadding: 12 },
        grid: { display: false },
        border: { color: grid },
        title: { display: !!canvas.dataset.xLabel, text: canvas.dataset.xLabel || "", color: muted },
      },
      y: {
        beginAtZero: true,
        ticks: { color: muted, precision: 0 },
        grid: { color: grid },
        border: { display: false },
        title: { display: twoAxes, text: twoAxes ? sets[0].label : "", color: muted },
      },
    };
    if (twoAxes) {
      scales.y1 = {
        position: "right", beginAtZero: true,
        ticks: { color: muted, precision: 0 },
        grid: { drawOnChartArea: false },
        border: { display: false },
        title: { display: true, text: sets[1] ? sets[1].label : "", color: muted },
      };
    }
    return {
      type: type,
      data: {
        labels: labels,
        datasets: sets.map(function (s) {
          var colour = cssVar(s.colour || "accent-2-solid") || cssVar("accent-2-solid");
          var kind = s.type || type;
          return {
            type: kind,
            label: s.label,
            data: s.values,
            yAxisID: s.axis || "y",
            borderColor: colour,
            backgroundColor: kind === "line" ? colour : colour + "cc",
            borderWidth: 2,
            pointRadius: kind === "line" && s.values.length > 60 ? 0 : 2,
            pointHoverRadius: 4,
            tension: 0,
            borderRadius: 3,
            maxBarThickness: 28,
          };
        }),
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: reduceMotion ? false : { duration: 300 },
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { display: sets.length > 1, labels: { color: text, boxWidth: 12 } },
          tooltip: { enabled: true },
        },
        scales: scales,
      },
    };
  }

  var charts = [];
  canvases.forEach(function (canvas) {
    charts.push({ canvas: canvas, chart: new window.Chart(canvas, config(canvas)) });
  });

  // Light or dark follows the system: redraw with the other scheme's colours.
  var scheme = window.matchMedia("(prefers-color-scheme: dark)");
  function recolour() {
    charts.forEach(function (item) {
      var fresh = config(item.canvas);
      item.chart.data.datasets.forEach(function (set, i) {
        set.borderColor = fresh.data.datasets[i].borderColor;
        set.backgroundColor = fresh.data.datasets[i].backgroundColor;
      });
      item.chart.options.scales = fresh.options.scales;
      item.chart.options.plugins.legend.labels.color = fresh.options.plugins.legend.labels.color;
      item.chart.update("none");
    });
  }
  if (scheme.addEventListener) scheme.addEventListener("change", recolour);
})();
