/* The phone pages of the event hub: photo previews, the phone's position with a small map to
   adjust it, and forms that submit once. The texts come from the page (data-* attributes), so
   they are translated with the rest of it. */
(function () {
  "use strict";

  function previews(input) {
    var target = document.getElementById(input.dataset.preview);
    if (!target) return;
    input.addEventListener("change", function () {
      target.innerHTML = "";
      Array.prototype.forEach.call(input.files || [], function (file) {
        var figure = document.createElement("figure");
        if (file.type && file.type.indexOf("image/") === 0) {
          var img = document.createElement("img");
          img.src = URL.createObjectURL(file);
          img.alt = file.name;
          img.onload = function () { URL.revokeObjectURL(img.src); };
          figure.appendChild(img);
        }
        var caption = document.createElement("figcaption");
        caption.textContent = file.name;
        figure.appendChild(caption);
        target.appendChild(figure);
      });
      target.hidden = !(input.files && input.files.length);
    });
  }

  function locator(box) {
    var form = box.closest("form");
    var lat = form.querySelector("input[name=latitude]");
    var lng = form.querySelector("input[name=longitude]");
    var status = box.querySelector("[data-status]");
    var button = box.querySelector("[data-locate]");
    var mapBox = box.querySelector("[data-map]");
    var map = null;
    var marker = null;

    function say(text, state) {
      status.textContent = text;
      status.dataset.state = state || "";
    }

    function set(latitude, longitude, announce) {
      lat.value = latitude.toFixed(6);
      lng.value = longitude.toFixed(6);
      if (window.L && mapBox) {
        if (!map) {
          mapBox.hidden = false;
          map = window.L.map(mapBox, { zoomControl: true, attributionControl: !!box.dataset.tiles });
          if (box.dataset.tiles) {
            window.L.tileLayer(box.dataset.tiles, {
              maxZoom: 19,
              attribution: box.dataset.attribution || ""
            }).addTo(map);
          } else {
            mapBox.classList.add("no-tiles");
          }
          window.L.control.scale({ imperial: false }).addTo(map);
          map.setView([latitude, longitude], 17);
          marker = window.L.marker([latitude, longitude], { draggable: true }).addTo(map);
          marker.on("dragend", function () {
            var p = marker.getLatLng();
            set(p.lat, p.lng, true);
            say(box.dataset.textMoved, "ok");
          });
          map.on("click", function (e) {
            marker.setLatLng(e.latlng);
            set(e.latlng.lat, e.latlng.lng, true);
            say(box.dataset.textMoved, "ok");
          });
        } else {
          marker.setLatLng([latitude, longitude]);
          map.panTo([latitude, longitude]);
        }
      }
      if (announce) document.body.dispatchEvent(new CustomEvent("linli:position"));
    }

    function locate() {
      if (!navigator.geolocation) {
        say(box.dataset.textUnsupported, "bad");
        return;
      }
      say(box.dataset.textLocating, "busy");
      navigator.geolocation.getCurrentPosition(
        function (position) {
          var c = position.coords;
          set(c.latitude, c.longitude, true);
          say(box.dataset.textLocated.replace("%(metres)s", Math.round(c.accuracy || 0)), "ok");
        },
        function () {
          say(box.dataset.textFailed, "bad");
        },
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
      );
    }

    if (button) button.addEventListener("click", locate);
    if (lat.value && lng.value) {
      set(parseFloat(lat.value), parseFloat(lng.value), false);
      say(box.dataset.textKept, "ok");
    } else {
      locate();
    }
  }

  function once(form) {
    form.addEventListener("submit", function () {
      // A second tap while the first submission travels does nothing here; the idempotency key
      // makes the server keep one event even if it does get through.
      if (form.dataset.sent) {
        return;
      }
      form.dataset.sent = "1";
      Array.prototype.forEach.call(form.querySelectorAll("button[type=submit]"), function (b) {
        if (b.dataset.busy) b.textContent = b.dataset.busy;
        setTimeout(function () { b.disabled = true; }, 0);
      });
    });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("input[data-preview]"), previews);
    Array.prototype.forEach.call(document.querySelectorAll("[data-locator]"), locator);
    Array.prototype.forEach.call(document.querySelectorAll("form[data-once]"), once);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
