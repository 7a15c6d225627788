// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  // Show slots in the visitor's own time zone: ask the server for it once.
  var picker = document.querySelector("[data-visitor-tz]");
  if (picker && !new URLSearchParams(location.search).has("tz")) {
    try {
      var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (zone && zone !== picker.getAttribute("data-visitor-tz")) {
        var url = new URL(location.href);
        url.searchParams.set("tz", zone);
        location.replace(url.toString());
      }
    } catch (e) { /* keep the server's zone */ }
  }
})();
