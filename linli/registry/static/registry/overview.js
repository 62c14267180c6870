/* The community overview's charts, drawn from the json_script data of the page (no CDN). */
(function () {
  "use strict";
  function data(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }
  function pie(id, series) {
    var node = document.getElementById(id);
    if (!node || !window.echarts) { return; }
    var chart = window.echarts.init(node);
    chart.setOption({
      tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
      legend: { bottom: 0, type: "scroll" },
      series: [{ type: "pie", radius: ["35%", "65%"], data: series, label: { formatter: "{b}\n{c}" } }]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  function bar(id, labels, values) {
    var node = document.getElementById(id);
    if (!node || !window.echarts) { return; }
    var chart = window.echarts.init(node);
    chart.setOption({
      tooltip: { trigger: "axis" },
      grid: { left: 40, right: 10, top: 20, bottom: 30 },
      xAxis: { type: "category", data: labels },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "bar", data: values, itemStyle: { color: "#2563eb" }, label: { show: true, position: "top" } }]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var charts = data("overview-data");
    if (!charts) { return; }
    pie("chart-registration", charts.registration);
    pie("chart-gender", charts.gender);
    bar("chart-age", charts.age_bands.labels, charts.age_bands.values);
    pie("chart-houses", charts.houses);
  });
})();
