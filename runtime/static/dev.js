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
  var source = new EventSource("/__ecospec/events");
  source.onmessage = function (event) {
    var message = JSON.parse(event.data);
    if (message.type === "error") { show(message.errors || []); return; }
    if (message.type === "css") {
      hide();
      document.querySelectorAll('link[rel="stylesheet"]').forEach(function (link) {
        var url = new URL(link.href);
        url.searchParams.set("v", String(Date.now()));
        link.href = url.toString();
      });
      return;
    }
    if (message.type === "reload") { window.location.reload(); }
  };
})();
