// Firebreak console: the little behaviour server-rendered pages cannot have on their own.
// Served from the console itself (the Content-Security-Policy allows no other script), and
// every page works without it: it only refreshes lists and adds keyboard shortcuts.
"use strict";

(function () {
  var POLL_MS = 5000;

  // A list (the incidents, the approval queue) swaps in its freshly rendered rows every
  // few seconds, so that new incidents, state changes and steps that begin or stop waiting
  // appear without a reload (which would lose the filter the responder is typing). The
  // stamp names the rows' URL and, in data-target, the element they replace. Polling
  // pauses while the tab is hidden, and while the responder is working in the rows (a
  // comment half typed, a button in focus), so that nothing they are doing is swapped away.
  function pollRows() {
    var stamp = document.getElementById("refreshed");
    if (!stamp) return;
    var body = document.getElementById(stamp.getAttribute("data-target") || "incident-rows");
    if (!body) return;
    var url = stamp.getAttribute("data-rows");
    var failures = 0;
    function busy() {
      if (body.contains(document.activeElement)) return true;
      var fields = body.querySelectorAll("input:not([type=hidden]), textarea");
      for (var i = 0; i < fields.length; i++) {
        if (fields[i].value) return true;
      }
      return false;
    }
    function tick() {
      if (document.hidden || busy()) return;
      fetch(url, { credentials: "same-origin", headers: { "X-Firebreak-Poll": "1" } })
        .then(function (res) {
          if (res.status === 401) {
            stamp.textContent = "Signed out; reload to sign in again";
            return null;
          }
          if (!res.ok) throw new Error("HTTP " + res.status);
          return res.text();
        })
        .then(function (html) {
          if (html === null || busy()) return;
          body.innerHTML = html; // rendered and escaped by the server's templates
          failures = 0;
          stamp.textContent = "Updated " + new Date().toISOString().replace("T", " ").slice(0, 19) + "Z";
          stamp.classList.remove("stale");
        })
        .catch(function () {
          failures++;
          stamp.textContent = "Could not refresh (" + failures + " tries); showing the last list";
          stamp.classList.add("stale");
        });
    }
    setInterval(tick, POLL_MS);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) tick(); });
  }

  // An incident that is still moving reloads itself until it settles.
  function reloadLive() {
    var live = document.getElementById("live");
    if (!live) return;
    var secs = parseInt(live.getAttribute("data-reload"), 10) || 5;
    setTimeout(function () {
      // Never throw away a comment being typed.
      var active = document.activeElement;
      if (active && (active.tagName === "INPUT" || active.tagName === "TEXTAREA") && active.value) {
        reloadLive();
        return;
      }
      if (!document.hidden) window.location.reload();
      else reloadLive();
    }, secs * 1000);
  }

  // Single-key shortcuts to the main pages, and / to the first filter, ignored while
  // typing in a field.
  function shortcuts() {
    document.addEventListener("keydown", function (e) {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      var t = e.target;
      if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable)) return;
      if (e.key === "/") {
        var f = document.getElementById("filter-state");
        if (f) { e.preventDefault(); f.focus(); }
        return;
      }
      var link = document.querySelector('nav a[data-key="' + e.key + '"]');
      if (link) { e.preventDefault(); window.location.href = link.href; }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    pollRows();
    reloadLive();
    shortcuts();
  });
})();
