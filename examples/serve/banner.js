// The banner an app shows from phasegate serve's /status (docs/serve.md). Drop it into any page:
//   <div id="status-banner" hidden></div>
//   <script src="banner.js" data-status-url="https://status.bookbot.example/status"></script>
// It polls every 30 s, shows the message for maintenance / degraded / down, and hides itself on ok. A status it
// cannot fetch shows nothing: the banner must never be the thing that breaks the page.
(function () {
  var script = document.currentScript;
  var url = (script && script.dataset.statusUrl) || "/status";
  var colours = { maintenance: "#1d4ed8", degraded: "#b45309", down: "#b91c1c" };
  function render(s) {
    var el = document.getElementById("status-banner");
    if (!el) return;
    if (!s || s.level === "ok" || !colours[s.level] || !s.message) { el.hidden = true; return; }
    el.textContent = s.message + (s.until ? " (until " + new Date(s.until).toLocaleTimeString() + ")" : "");
    el.style.cssText = "padding:.5em 1em;color:#fff;font:600 14px system-ui;background:" + colours[s.level];
    el.setAttribute("role", s.level === "maintenance" ? "status" : "alert");
    el.hidden = false;
  }
  function poll() {
    fetch(url, { cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(render)
      .catch(function () { render(null); });
  }
  poll();
  setInterval(poll, 30000);
})();
