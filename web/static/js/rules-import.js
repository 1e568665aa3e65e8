/* Wachter console, rule pages: the import's upload progress and how htmx answers are shown.
   Loaded from a file (the CSP allows no inline script); every form works without it.

   - Import: htmx fires "htmx:xhr:progress" while the upload is sent; the <progress> bar
     under the form shows the share sent, then that the server is reading the rules; it
     is hidden again when the answer arrives.
   - Forms marked data-swap-errors="true" (the import, "test this rule") show a 400 answer:
     it carries the reason the input was refused (htmx leaves 4xx answers out by default).
   - An htmx request that was redirected (switching a rule off needs a fresh confirmation;
     a session that ended needs a sign-in) continues as a normal page: the confirmation page
     brings the reader back afterwards. */
(function () {
  "use strict";

  function progressParts(form) {
    var id = form.getAttribute("data-import-progress");
    var bar = id && document.getElementById(id);
    if (!bar) return null;
    return {
      box: document.getElementById(id + "-box"),
      bar: bar,
      text: document.getElementById(id + "-text")
    };
  }

  function samePath(one, other) {
    try {
      return decodeURIComponent(one.pathname) === decodeURIComponent(other.pathname);
    } catch (error) {
      return one.pathname === other.pathname;
    }
  }

  // The element that made the request: htmx dispatches beforeSwap on the target and sets
  // detail.elt to it, so the request's own element is read from requestConfig first.
  function formOf(event) {
    var detail = event.detail || {};
    var element = (detail.requestConfig && detail.requestConfig.elt) || detail.elt;
    return element && element.closest ? element.closest("form") : null;
  }

  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = formOf(event);
    var parts = form && progressParts(form);
    if (!parts || !event.detail.lengthComputable || !event.detail.total) return;
    var percent = Math.floor((100 * event.detail.loaded) / event.detail.total);
    parts.box.hidden = false;
    parts.bar.value = percent;
    var template = parts.text.getAttribute(percent >= 100 ? "data-checking" : "data-uploading");
    parts.text.textContent = template.replace("{percent}", String(percent));
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var form = formOf(event);
    var parts = form && progressParts(form);
    if (parts) parts.box.hidden = true;
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    var wanted = event.detail.requestConfig && event.detail.requestConfig.path;
    if (xhr && xhr.responseURL && wanted) {
      var answered = new URL(xhr.responseURL, window.location.href);
      var asked = new URL(wanted, window.location.href);
      if (answered.origin === window.location.origin && samePath(answered, asked) === false) {
        event.detail.shouldSwap = false;
        window.location.assign(answered.href);
        return;
      }
    }
    var form = formOf(event);
    if (xhr && xhr.status === 400 && form && form.getAttribute("data-swap-errors") === "true") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
