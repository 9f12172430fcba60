// The console's few behaviours: draw the usage charts from the page's JSON block, copy a new key.
(function () {
  "use strict";

  var COLORS = { requests: "#0b57d0", total_tokens: "#146c2e", cost_usd: "#b3261e", saved_cost_usd: "#8a5300" };

  function readData() {
    var node = document.getElementById("chart-data");
    return node ? JSON.parse(node.textContent) : null;
  }

  function dayChart(data) {
    var canvas = document.getElementById("day-chart");
    var select = document.getElementById("day-metric");
    if (!canvas || !window.Chart) { return; }
    var metric = select ? select.value : "requests";
    var chart = new window.Chart(canvas, {
      type: "bar",
      data: { labels: data.days.labels,
              datasets: [{ label: data.labels[metric], data: data.days.series[metric],
                           backgroundColor: COLORS[metric] }] },
      options: { maintainAspectRatio: false, animation: false, plugins: { legend: { display: false } },
                 scales: { y: { beginAtZero: true } } }
    });
    if (select) {
      select.addEventListener("change", function () {
        var chosen = select.value;
        chart.data.datasets[0].label = data.labels[chosen];
        chart.data.datasets[0].data = data.days.series[chosen];
        chart.data.datasets[0].backgroundColor = COLORS[chosen];
        chart.update();
      });
    }
  }

  function breakdownCharts(data) {
    if (!window.Chart) { return; }
    document.querySelectorAll("canvas[data-breakdown]").forEach(function (canvas) {
      var series = data.breakdowns[canvas.getAttribute("data-breakdown")];
      var box = canvas.parentNode;
      var bars = parseInt(box.getAttribute("data-bars") || "1", 10);
      box.style.height = Math.max(8, Math.min(40, 2.2 * bars + 3)) + "rem";  // CSSOM: allowed by the CSP
      new window.Chart(canvas, {
        type: "bar",
        data: { labels: series.labels,
                datasets: [{ label: data.labels.cost_usd, data: series.series.cost_usd,
                             backgroundColor: COLORS.cost_usd }] },
        options: { indexAxis: "y", maintainAspectRatio: false, animation: false,
                   plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true } } }
      });
    });
  }

  function copyButtons() {
    document.querySelectorAll("button[data-copy-target]").forEach(function (button) {
      button.addEventListener("click", function () {
        var field = document.getElementById(button.getAttribute("data-copy-target"));
        var status = document.getElementById("copy-status");
        var done = function (ok) { if (status) { status.textContent = ok ? "Copied." : "Select the key and copy it."; } };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(field.value).then(function () { done(true); }, function () { done(false); });
        } else {
          field.focus();
          field.select();
          var ok = false;
          try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
          done(ok);
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var data = readData();
    if (data) {
      dayChart(data);
      breakdownCharts(data);
    }
    copyButtons();
  });
})();
