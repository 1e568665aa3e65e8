/* The dashboard's refresh keeps what the reader was doing: htmx swaps the panels every
   30 s, which would close every table the reader opened and drop the keyboard focus.
   Before the swap the open tables (<details> with an id) and the focused link or summary
   are noted; after it they are opened and focused again. Without JavaScript there is no
   refresh, so nothing to keep. */
(function () {
  "use strict";
  var REGION = "dashboard-panels";
  var kept = null;

  function focusKey(element) {
    if (!element || element === document.body) { return null; }
    if (element.id) { return { id: element.id }; }
    if (element.tagName === "SUMMARY" && element.parentElement && element.parentElement.id) {
      return { summaryOf: element.parentElement.id };
    }
    if (element.tagName === "A") { return { href: element.getAttribute("href") }; }
    return null;
  }

  function findFocus(region, key) {
    if (!key) { return null; }
    if (key.id) { return document.getElementById(key.id); }
    if (key.summaryOf) {
      var details = document.getElementById(key.summaryOf);
      return details ? details.querySelector("summary") : null;
    }
    var links = region.querySelectorAll("a[href]");
    for (var i = 0; i < links.length; i += 1) {
      if (links[i].getAttribute("href") === key.href) { return links[i]; }
    }
    return null;
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var region = event.detail.target;
    if (!region || region.id !== REGION) { return; }
    var open = [];
    region.querySelectorAll("details[open][id]").forEach(function (details) {
      open.push(details.id);
    });
    var active = region.contains(document.activeElement) ? document.activeElement : null;
    kept = { open: open, focus: focusKey(active) };
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var region = event.detail.target;
    if (!region || region.id !== REGION || kept === null) { return; }
    kept.open.forEach(function (id) {
      var details = document.getElementById(id);
      if (details) { details.open = true; }
    });
    var focus = findFocus(region, kept.focus);
    if (focus) { focus.focus({ preventScroll: true }); }
    kept = null;
  });
}());
