/* Wachter console: keyboard shortcuts. Loaded from a file (the CSP allows no inline script).

   Everywhere: "/" jumps to the search box in the top bar.
   In the alert queue (a table with data-shortcuts="queue"):
     j / k    next / previous alert          x        select or deselect it
     Enter    open it (the focused link)     a / e    acknowledge / escalate the selection
     ?        show or hide the list of shortcuts
   Keys typed into a field, or with Ctrl, Alt or Meta held, are never taken. */
(function () {
  "use strict";

  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  function queueRows() {
    var table = document.querySelector("table[data-shortcuts='queue']");
    return table ? Array.prototype.slice.call(table.tBodies[0].rows) : [];
  }

  function currentIndex(rows) {
    for (var i = 0; i < rows.length; i++) {
      if (rows[i].classList.contains("is-current")) return i;
    }
    return -1;
  }

  function moveTo(rows, index) {
    if (!rows.length) return;
    var next = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach(function (row) { row.classList.remove("is-current"); row.removeAttribute("aria-current"); });
    var row = rows[next];
    row.classList.add("is-current");
    row.setAttribute("aria-current", "true");
    var link = row.querySelector("a");
    if (link) link.focus();
  }

  function bulkAction(value) {
    var select = document.getElementById("bulk-action");
    if (!select || !select.querySelector("option[value='" + value + "']")) return false;
    select.value = value;
    select.dispatchEvent(new Event("change", { bubbles: true }));
    var apply = select.form && select.form.querySelector("button[type='submit'].primary");
    if (apply) apply.focus();
    return true;
  }

  function toggleHelp() {
    var help = document.getElementById("shortcuts-help");
    if (!help) return false;
    help.open = !help.open;
    if (help.open) help.querySelector("summary").focus();
    return true;
  }

  function onQueueKey(key, rows) {
    var index = currentIndex(rows);
    if (key === "j") { moveTo(rows, index + 1); return true; }
    if (key === "k") { moveTo(rows, index < 0 ? 0 : index - 1); return true; }
    if (key === "x" && index >= 0) {
      var box = rows[index].querySelector("input[type='checkbox']");
      if (box) { box.checked = !box.checked; box.dispatchEvent(new Event("change", { bubbles: true })); }
      return true;
    }
    if (key === "a") return bulkAction("acknowledge");
    if (key === "e") return bulkAction("escalate");
    return false;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.altKey || event.metaKey || typing(event.target)) return;
    var handled = false;
    if (event.key === "/") {
      var search = document.getElementById("global-search");
      if (search) { search.focus(); search.select(); handled = true; }
    } else if (event.key === "?") {
      handled = toggleHelp();
    } else {
      var rows = queueRows();
      if (rows.length) handled = onQueueKey(event.key, rows);
    }
    if (handled) event.preventDefault();
  });
})();
