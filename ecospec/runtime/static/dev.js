// ecospec dev: keeps an open page in step with the project as it is saved.
//
// When the server has rebuilt the page it says "reload". The page then fetches its new HTML and
// patches itself in place, without a navigation: the state of the window, the scroll position
// and every part of the page that did not change stay as they are. It reloads instead whenever
// patching cannot be done safely: the server says the site's scripts, stylesheet or static
// files changed; the new page links other scripts or stylesheets; it has scripts outside
// <head>; the fetch fails or does not answer a page; anything goes wrong while patching.
//
// The patch works on the page's parts as the server sent them: the nodes of <head>, those of
// <body> and, inside <main>, the blocks. Each part is known by its markup as sent. A part whose
// markup is in the new page too is kept (moved if needs be); one that is gone is removed; a new
// one is put in place as the server sent it. A block whose markup changed is therefore replaced
// whole, never edited node by node: the site's scripts set blocks up when they run (they find
// their elements, listen to them, start timers), so a changed block needs new elements and a
// fresh run of the scripts. They run again, in order, over the new blocks alone: the blocks that
// did not change are taken out of the page for that instant and put back (one task, nothing is
// painted in between), so no block is set up twice. Timers that a script started for a block
// that was replaced are not stopped; they go on working on elements no longer shown.
//
// Stylesheet changes swap the stylesheet alone. Spec errors show in an overlay until fixed.
(function () {
  "use strict";
  var me = document.currentScript; // this script's element: the server added it, it is not the page's
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

  // -- the page as the server sent it ----------------------------------------------------------

  // A part: its markup as sent (`key`), the node showing it, and for <main> its blocks. In
  // <body> (`top`), <main> is known by its own tag alone: its blocks are parts of their own.
  function keyOf(node, top) {
    if (node.nodeType === Node.ELEMENT_NODE) {
      return top && node.nodeName === "MAIN" ? "<main> " + node.cloneNode(false).outerHTML : node.outerHTML;
    }
    if (node.nodeType === Node.TEXT_NODE) { return "#text " + node.data; }
    if (node.nodeType === Node.COMMENT_NODE) { return "#comment " + node.data; }
    return "#" + node.nodeName;
  }
  function partOf(node, top) {
    var main = top && node.nodeName === "MAIN";
    return { key: keyOf(node, top), node: node, blocks: main ? partsOf(node, null, false) : null };
  }
  // the parts of a parent, up to `end` (this script, in <body>: what follows it is not the page's)
  function partsOf(parent, end, top) {
    var parts = [];
    for (var node = parent.firstChild; node && node !== end; node = node.nextSibling) {
      parts.push(partOf(node, top));
    }
    return parts;
  }
  function devScript(doc) { return doc.querySelector('body > script[src="/__ecospec/dev.js"]'); }

  // What makes a page patchable, the same in the old and the new one: the attributes of <html>
  // and <body>, the scripts and stylesheets it loads; and scripts only in <head>.
  function shape(doc, end) {
    var loads = [];
    var elsewhere = false;
    doc.querySelectorAll('script, link[rel~="stylesheet"]').forEach(function (el) {
      if (el === end) { return; }
      if (el.nodeName === "SCRIPT" && el.parentNode !== doc.head) { elsewhere = true; }
      loads.push(el.nodeName === "LINK" ? "link " + el.getAttribute("href") : el.outerHTML);
    });
    return {
      outer: doc.documentElement.cloneNode(false).outerHTML + doc.body.cloneNode(false).outerHTML,
      loads: loads.join("\n"),
      patchable: !elsewhere
    };
  }

  // the scripts to run again after a patch: the classic ones of <head>, in order
  function scriptsOf(doc) {
    var found = [];
    doc.head.querySelectorAll("script").forEach(function (el) {
      var type = (el.getAttribute("type") || "").trim().toLowerCase();
      if (type === "" || type === "text/javascript" || type === "application/javascript") {
        found.push({ src: el.getAttribute("src"), text: el.text });
      } else if (type === "module") {
        found.push({ module: true });
      }
    });
    return found;
  }

  // taken before the site's scripts (deferred) have run: the page exactly as sent
  var page = {
    head: partsOf(document.head, null, false),
    body: partsOf(document.body, me, true),
    shape: shape(document, me),
    scripts: scriptsOf(document)
  };
  var texts = {}; // the site's scripts' source, by URL, fetched once: they do not change under a patch
  // the site's scripts (deferred) run just before DOMContentLoaded: a patch waits for them
  var loaded = new Promise(function (resolve) {
    if (document.readyState === "complete") { resolve(); } else { document.addEventListener("DOMContentLoaded", resolve); }
  });

  // -- patching --------------------------------------------------------------------------------

  // Make `parent`'s parts those of `nodes` (from the new page), keeping the parts whose markup is
  // unchanged; the new nodes put in place are added to `fresh`. Returns the new parts.
  function reconcile(parent, parts, nodes, end, top, fresh) {
    var unused = {};
    parts.forEach(function (part) { (unused[part.key] = unused[part.key] || []).push(part); });
    var next = nodes.map(function (node) {
      var key = keyOf(node, top);
      var kept = unused[key] && unused[key].shift();
      if (kept && kept.blocks) {
        kept.blocks = reconcile(kept.node, kept.blocks, Array.from(node.childNodes), null, false, fresh);
      }
      if (kept) { return kept; }
      var made = document.adoptNode(node);
      fresh.push(made);
      return partOf(made, top);
    });
    Object.keys(unused).forEach(function (key) {
      unused[key].forEach(function (part) { part.node.remove(); });
    });
    // put the parts in order, moving only what is out of place; nodes that are not the page's
    // (added by a script, or this script's overlay) stay where they are
    var placed = new Set(next.map(function (part) { return part.node; }));
    var cursor = parent.firstChild;
    next.forEach(function (part) {
      while (cursor && cursor !== end && !placed.has(cursor)) { cursor = cursor.nextSibling; }
      if (part.node === cursor) { cursor = cursor.nextSibling; } else { parent.insertBefore(part.node, cursor); }
    });
    return next;
  }

  // Run the site's scripts again over the new blocks alone: the others leave the page meanwhile.
  function rerun(fresh, sources) {
    var isNew = new Set(fresh);
    var away = [];
    var x = window.scrollX, y = window.scrollY, focused = document.activeElement;
    function leave(part) {
      if (isNew.has(part.node) || part.node.nodeType !== Node.ELEMENT_NODE) { return; }
      if (part.blocks) { part.blocks.forEach(leave); return; } // <main> stays, its old blocks go
      var mark = document.createComment("ecospec: kept");
      part.node.replaceWith(mark);
      away.push([mark, part.node]);
    }
    page.body.forEach(leave);
    try {
      sources.forEach(function (source) {
        var script = document.createElement("script");
        script.text = source.text;
        document.head.appendChild(script);
        script.remove();
      });
    } finally {
      away.forEach(function (pair) { pair[0].replaceWith(pair[1]); });
      // a script that asked for the layout meanwhile may have moved the page, or taken the focus
      if (focused && focused !== document.activeElement && focused.isConnected) { focused.focus({ preventScroll: true }); }
      if (window.scrollX !== x || window.scrollY !== y) { window.scrollTo(x, y); }
    }
  }

  function apply(doc, sources) {
    var end = devScript(doc);
    var now = shape(doc, end);
    if (!now.patchable || now.outer !== page.shape.outer || now.loads !== page.shape.loads) {
      return false;
    }
    var fresh = [];
    page.head = reconcile(document.head, page.head, Array.from(doc.head.childNodes), null, false, fresh);
    var head = fresh.length;
    var nodes = [];
    for (var node = doc.body.firstChild; node && node !== end; node = node.nextSibling) { nodes.push(node); }
    page.body = reconcile(document.body, page.body, nodes, me, true, fresh);
    fresh = fresh.slice(head).filter(function (node) { return node.nodeType === Node.ELEMENT_NODE; });
    if (fresh.length) { rerun(fresh, sources); }
    page.shape = now;
    return true;
  }

  function fetchText(url, accept) {
    return fetch(url, { cache: "no-store", headers: { "X-Ecospec-Patch": "1" } }).then(function (response) {
      var type = response.headers.get("content-type") || "";
      if (!response.ok || response.redirected || type.indexOf(accept) !== 0) {
        throw new Error(url + ": " + response.status + " " + type);
      }
      return response.text();
    });
  }

  // the source of the site's scripts as the page ran them
  function sourcesOf(scripts) {
    return Promise.all(scripts.map(function (script) {
      if (script.module) { return Promise.reject(new Error("module scripts are not run again")); }
      if (!script.src) { return script.text; }
      var url = new URL(script.src, window.location.href).href;
      if (!(url in texts)) {
        texts[url] = fetchText(url, "").then(function (text) {
          return text + "\n//# sourceURL=" + url;
        });
      }
      return texts[url];
    })).then(function (found) { return found.map(function (text) { return { text: text }; }); });
  }

  function patch() {
    var url = window.location.href.split("#")[0];
    return Promise.all([fetchText(url, "text/html"), sourcesOf(page.scripts), loaded]).then(function (got) {
      var doc = new DOMParser().parseFromString(got[0], "text/html");
      if (!apply(doc, got[1])) { throw new Error("the page's scripts or stylesheets changed"); }
      hide();
      document.dispatchEvent(new CustomEvent("ecospec:updated"));
    });
  }

  // one patch at a time; a message during one asks for one more after it
  var running = false, again = false;
  function update() {
    if (running) { again = true; return; }
    running = true;
    Promise.resolve().then(patch).then(function () {
      running = false;
      if (again) { again = false; update(); }
    }, function (error) {
      console.info("ecospec dev: reloading the page (" + error.message + ")");
      window.location.reload();
    });
  }

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
      page.head.forEach(function (part) { if (part.node === link) { part.node = fresh; } });
    });
  }

  // the page's path tells the server which pages are open: those are rebuilt first
  var source = new EventSource("/__ecospec/events?path=" + encodeURIComponent(window.location.pathname));
  source.onmessage = function (event) {
    var message = JSON.parse(event.data);
    if (message.type === "error") { show(message.errors || []); return; }
    if (message.type === "css") { hide(); restyle(); return; }
    if (message.type === "reload") {
      if (message.patch) { update(); } else { window.location.reload(); }
    }
  };
})();
