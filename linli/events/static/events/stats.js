/* The event statistics charts, drawn from the json_script data of the page (no CDN). */
(function () {
  "use strict";
  function data(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }
  function chart(id, option) {
    var node = document.getElementById(id);
    if (!node || !window.echarts) { return; }
    var instance = window.echarts.init(node);
    instance.setOption(option);
    window.addEventListener("resize", function () { instance.resize(); });
  }
  function pie(id, series) {
    chart(id, {
      tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
      legend: { bottom: 0, type: "scroll" },
      series: [{ type: "pie", radius: ["35%", "65%"], data: series, label: { formatter: "{b}\n{c}" } }]
    });
  }
  function bar(id, labels, values, horizontal) {
    var category = { type: "category", data: labels, axisLabel: { interval: 0 } };
    var value = { type: "value", minInterval: 1 };
    chart(id, {
      tooltip: { trigger: "axis" },
      grid: { left: horizontal ? 150 : 40, right: 20, top: 20, bottom: 40 },
      xAxis: horizontal ? value : category,
      yAxis: horizontal ? category : value,
      series: [{ type: "bar", data: values, itemStyle: { color: "#2563eb" },
                 label: { show: true, position: horizontal ? "right" : "top" } }]
    });
  }
  function line(id, labels, values) {
    chart(id, {
      tooltip: { trigger: "axis" },
      grid: { left: 40, right: 20, top: 20, bottom: 40 },
      xAxis: { type: "category", data: labels },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "line", data: values, smooth: true, areaStyle: {}, itemStyle: { color: "#2563eb" } }]
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var charts = data("stats-data");
    if (!charts) { return; }
    pie("chart-sources", charts.sources);
    pie("chart-categories", charts.categories);
    bar("chart-statuses", charts.statuses.labels, charts.statuses.values, false);
    bar("chart-leaves", charts.leaves.labels, charts.leaves.values, true);
    line("chart-days", charts.days.labels, charts.days.values);
  });
})();
