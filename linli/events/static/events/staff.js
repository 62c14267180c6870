/* Maps of the event pages (Leaflet, vendored): a marker where the event is, and on the report
   form a click that sets the position. Tiles come from LINLI_MAP_TILE_URL when configured;
   without them the map shows the register's compounds and buildings as landmarks. */
(function () {
  "use strict";
  // Forms that remove or retire something ask first.
  document.addEventListener("submit", function (e) {
    var message = e.target.getAttribute && e.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) e.preventDefault();
  });
  if (!window.L) return;

  function base(map, el) {
    var url = el.dataset.tiles;
    if (url) {
      L.tileLayer(url, { attribution: el.dataset.attribution || "", maxZoom: 19 }).addTo(map);
      return;
    }
    var note = L.control({ position: "bottomleft" });
    note.onAdd = function () {
      var div = L.DomUtil.create("div", "map-note");
      div.textContent = el.dataset.noTiles || "";
      return div;
    };
    note.addTo(map);
  }

  document.querySelectorAll(".map[data-lat]:not(#position-map)").forEach(function (el) {
    var at = [parseFloat(el.dataset.lat), parseFloat(el.dataset.lng)];
    var map = L.map(el, { scrollWheelZoom: false }).setView(at, 16);
    base(map, el);
    L.marker(at).addTo(map);
  });

  var picker = document.getElementById("position-map");
  if (!picker) return;
  var lat = document.getElementById("id_latitude");
  var lng = document.getElementById("id_longitude");
  var has = function () { return lat.value !== "" && lng.value !== ""; };
  var start = has()
    ? [parseFloat(lat.value), parseFloat(lng.value)]
    : [parseFloat(picker.dataset.lat), parseFloat(picker.dataset.lng)];
  var map = L.map(picker).setView(start, has() ? 17 : 15);
  base(map, picker);
  var marker = null;
  var landmarks = L.layerGroup().addTo(map);

  function place(at) {
    if (marker) marker.setLatLng(at);
    else marker = L.marker(at).addTo(map);
  }
  function changed() { lat.dispatchEvent(new Event("change", { bubbles: true })); }
  if (has()) place(start);

  map.on("click", function (e) {
    place(e.latlng);
    lat.value = e.latlng.lat.toFixed(6);
    lng.value = e.latlng.lng.toFixed(6);
    changed();
  });
  function typed() {
    if (!has()) return;
    var at = [parseFloat(lat.value), parseFloat(lng.value)];
    if (isNaN(at[0]) || isNaN(at[1])) return;
    place(at);
    map.setView(at);
  }
  lat.addEventListener("input", typed);
  lng.addEventListener("input", typed);
  var clear = document.getElementById("clear-position");
  if (clear) clear.addEventListener("click", function () {
    lat.value = ""; lng.value = "";
    if (marker) { map.removeLayer(marker); marker = null; }
    changed();
  });

  function drawLandmarks() {
    landmarks.clearLayers();
    var data = document.getElementById("place-points");
    if (!data) return;
    var points = JSON.parse(data.textContent || "[]");
    points.forEach(function (p) {
      L.circleMarker([p.lat, p.lng], { radius: 5, color: "#475569", weight: 1, fillOpacity: .5 })
        .bindTooltip(p.name, { permanent: points.length <= 8, direction: "right", className: "place-label" })
        .addTo(landmarks);
    });
    if (points.length && !has()) {
      map.fitBounds(L.latLngBounds(points.map(function (p) { return [p.lat, p.lng]; })).pad(0.3));
    }
  }
  drawLandmarks();
  document.body.addEventListener("htmx:afterSwap", function (e) {
    if (!e.detail.target || e.detail.target.id !== "place-records") return;
    var centre = e.detail.target.querySelector("[data-centre-lat]");
    if (centre && !has()) {
      map.setView([parseFloat(centre.dataset.centreLat), parseFloat(centre.dataset.centreLng)], 15);
    }
    drawLandmarks();
  });
})();
