// ecospec dev: reload on change, swap stylesheets in place, show spec errors in an overlay.
(function () {
  var overlay = null;
  function show(errors) {
    if (!overlay) {
      overlay = document.createElement("div");
      overlay.id = "ecospec-dev-overlay";
      overlay.setAttribute("role", "alert");
      overlay.style.cssText = "position:fixed;inset:0;z-index:2147483647;background:rgba(20,22,26,.94);color:#fff;" +
        "font:14px/1.5 ui-monospace,SFMono-Regular,Menlo,monospace;padding:2rem;overflow:auto;white-space:pre-wrap";
      document.body.appendChild(overlay);
    }
    overlay.textContent = "Ecospec: the spec has errors; the last good version is still served.\n\n" + errors.join("\n");
  }
  function hide() { if (overlay) { overlay.remove(); overlay = null; } }
  // The site's own stylesheets, each replaced by a fresh copy that takes over once it has
  // loaded: the page is never without styles in between.
  function restyle() {
    var stamp = String(Date.now());
    document.querySelectorAll('link[rel="stylesheet"]').forEach(function (link) {
      if (link.dataset.ecospecStale) { return; }
      var url = new URL(link.href, window.location.href);
      if (url.origin !== window.location.origin) { return; }
      url.searchParams.set("v", stamp);
      var fresh = link.cloneNode();
      fresh.href = url.toString();
      link.dataset.ecospecStale = "1";
      var done = function () { link.remove(); };
      fresh.addEventListener("load", done);
      fresh.addEventListener("error", done);
      link.after(fresh);
    });
  }
  // the page's path tells the server which pages are open: those are rebuilt first
  var source = new EventSource("/__ecospec/events?path=" + encodeURIComponent(window.location.pathname));
  source.onmessage = function (event) {
    var message = JSON.parse(event.data);
    if (message.type === "error") { show(message.errors || []); return; }
    if (message.type === "css") { hide(); restyle(); return; }
    if (message.type === "reload") { window.location.reload(); }
  };
})();
