/* The county view's trend: communities per tier on each assessment date, as stacked bars
   (drawn from the page's json_script data; no CDN). */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var source = document.getElementById("county-trend");
    var node = document.getElementById("chart-trend");
    if (!source || !node || !window.echarts) { return; }
    var data = JSON.parse(source.textContent);
    if (!data.dates.length) { node.style.display = "none"; return; }
    var chart = window.echarts.init(node);
    chart.setOption({
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { bottom: 0, type: "scroll" },
      grid: { left: 40, right: 10, top: 20, bottom: 50 },
      xAxis: { type: "category", data: data.dates },
      yAxis: { type: "value", minInterval: 1 },
      series: data.series.map(function (s) {
        return { name: s.name, type: "bar", stack: "tiers", barMaxWidth: 60, data: s.values, itemStyle: { color: s.colour } };
      })
    });
    window.addEventListener("resize", function () { chart.resize(); });
  });
})();
