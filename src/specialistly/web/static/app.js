// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  function browserZone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (e) {
      return "";
    }
  }

  // Show times in the visitor's own time zone: ask the server for it once. The zone picker
  // stays for anyone who wants another zone (or has no JavaScript).
  var picker = document.querySelector("[data-visitor-tz]");
  var params = new URLSearchParams(location.search);
  if (picker && !params.has("tz") && location.pathname === picker.getAttribute("action")) {
    var zone = browserZone();
    if (zone && zone !== picker.getAttribute("data-visitor-tz")) {
      var url = new URL(location.href);
      url.searchParams.set("tz", zone);
      location.replace(url.toString());
    }
  }

  // Sign-up: nobody has chosen a zone yet, so start from the browser's own.
  Array.prototype.forEach.call(document.querySelectorAll("select[data-browser-zone]"), function (select) {
    var zone = browserZone();
    var known = Array.prototype.some.call(select.options, function (o) { return o.value === zone; });
    if (known) select.value = zone;
  });

  // A filter above each zone list: type a city, the list keeps the zones that match.
  Array.prototype.forEach.call(document.querySelectorAll("[data-zone-filter]"), function (input) {
    var select = document.getElementById(input.getAttribute("data-zone-filter"));
    if (!select) return;
    input.hidden = false;
    input.addEventListener("input", function () {
      var words = input.value.trim().toLowerCase().replace(/_/g, " ");
      var first = null;
      Array.prototype.forEach.call(select.querySelectorAll("optgroup"), function (group) {
        var shown = 0;
        Array.prototype.forEach.call(group.querySelectorAll("option"), function (option) {
          var text = (option.value + " " + option.textContent).toLowerCase().replace(/_/g, " ");
          var match = !words || text.indexOf(words) !== -1;
          option.hidden = !match;
          if (match) {
            shown += 1;
            first = first || option;
          }
        });
        group.hidden = shown === 0;
      });
      var current = select.options[select.selectedIndex];
      if (first && (!current || current.hidden)) select.value = first.value;
    });
  });
})();
