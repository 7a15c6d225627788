// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  // Show times in the visitor's own time zone: ask the server for it once. The zone picker
  // stays for anyone who wants another zone (or has no JavaScript).
  var picker = document.querySelector("[data-visitor-tz]");
  var params = new URLSearchParams(location.search);
  if (picker && !params.has("tz") && location.pathname === picker.getAttribute("action")) {
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
