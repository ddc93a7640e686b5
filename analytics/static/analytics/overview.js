/* The analytics page's charts (Chart.js, served from our static files).
   Data: the page's <script type="application/json" id="analytics-data">. */
(function () {
  "use strict";
  var PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b"];
  var compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });
  var whole = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  var percent = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  var shortDay = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", timeZone: "UTC" });

  function dayLabel(iso) {
    return shortDay.format(new Date(iso + "T00:00:00Z"));
  }

  function draw(id, type, days, series, unit) {
    var canvas = document.getElementById(id);
    if (!canvas || !window.Chart) { return null; }
    var isRate = unit === "%";
    var datasets = series.map(function (s, i) {
      var colour = s.total ? "#333333" : PALETTE[i % PALETTE.length];
      return {
        label: s.label,
        data: s.data,
        borderColor: colour,
        backgroundColor: colour,
        borderWidth: s.total ? 3 : 2,
        borderDash: s.total ? [6, 4] : [],
        pointRadius: days.length > 60 ? 0 : 2,
        spanGaps: true,
        tension: 0.15
      };
    });
    return new window.Chart(canvas, {
      type: type,
      data: { labels: days.map(dayLabel), datasets: datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: {
            position: "bottom",
            labels: type === "line" ? { usePointStyle: true, pointStyle: "line" } : {}
          },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                var v = ctx.parsed.y;
                var text = isRate ? percent.format(v) + " %" : whole.format(v) + " " + unit;
                return ctx.dataset.label + ": " + text;
              }
            }
          }
        },
        scales: {
          x: {
            title: { display: true, text: "Day (UTC)" },
            ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 16, maxTicksLimit: 8 }
          },
          y: {
            beginAtZero: type === "bar",
            title: { display: true, text: isRate ? "Engagement rate (%)" : unit.charAt(0).toUpperCase() + unit.slice(1) },
            ticks: {
              callback: function (v) { return isRate ? percent.format(v) + " %" : compact.format(v); }
            }
          }
        }
      }
    });
  }

  function start() {
    var node = document.getElementById("analytics-data");
    if (!node) { return; }
    var data = JSON.parse(node.textContent);
    var charts = [
      draw("chart-followers", "line", data.days, data.followers, "followers"),
      draw("chart-rate", "line", data.days, data.rate, "%"),
      draw("chart-interactions", "bar", data.days, data.interactions, "interactions")
    ];
    document.body.dataset.chartsDrawn = String(charts.filter(Boolean).length);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
