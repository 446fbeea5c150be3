// The User list's select-all and the bulk MFA form's progress. Loaded by the pages that
// use it; no inline scripts (the Content-Security-Policy forbids them).
(function () {
  "use strict";

  // Select all on this page, then optionally every user that matches the list.
  function selectAll(form) {
    var results = document.getElementById("user-results");
    var scope = form.querySelector("select[name=scope]");
    if (!results || !scope) return;
    var scopeBefore = null; // what the scope was before "all that match" set it

    function boxes() { return results.querySelectorAll("input[name=users]"); }

    function show() {
      var page = document.getElementById("select-page");
      var bar = document.getElementById("select-all");
      if (page) page.hidden = false;
      if (bar) bar.hidden = false;
      update();
    }

    function update() {
      var page = document.getElementById("select-page");
      var status = document.getElementById("select-all-status");
      var matching = document.getElementById("select-matching");
      if (!page || !status) return;
      var all = boxes();
      var ticked = Array.prototype.filter.call(all, function (b) { return b.checked; }).length;
      page.checked = all.length > 0 && ticked === all.length;
      page.indeterminate = ticked > 0 && ticked < all.length;
      if (scope.value === "matching") {
        status.textContent = matching ? matching.dataset.done : "";
        if (matching) matching.hidden = true;
        return;
      }
      status.textContent = "";
      if (matching) {
        matching.hidden = !page.checked;
        matching.textContent = matching.dataset.label;
      }
    }

    results.addEventListener("change", function (e) {
      var target = e.target;
      if (target.id === "select-page") {
        boxes().forEach(function (b) { b.checked = target.checked; });
      }
      if (!target.checked && scope.value === "matching") {
        scope.value = scopeBefore || "selected";
      }
      update();
    });
    results.addEventListener("click", function (e) {
      if (e.target.id !== "select-matching") return;
      scopeBefore = scope.value === "matching" ? scopeBefore : scope.value;
      scope.value = "matching";
      update();
    });
    scope.addEventListener("change", update);
    // The live search replaces the results: show the new controls again.
    new MutationObserver(show).observe(results, { childList: true });
    show();
  }

  // A form that says it is working and cannot be sent twice from this page (the server
  // refuses a second run of the same key anyway).
  function working(form) {
    form.addEventListener("submit", function (e) {
      if (e.submitter && e.submitter.name === "back") return;
      if (form.dataset.sent) {
        e.preventDefault();
        return;
      }
      form.dataset.sent = "1";
      var status = form.querySelector(".working");
      if (status) status.textContent = form.dataset.working;
      setTimeout(function () {
        form.querySelectorAll("button[type=submit]").forEach(function (b) {
          b.disabled = true;
          b.setAttribute("aria-disabled", "true");
        });
      }, 0);
    });
  }

  // Back to a page the browser kept: its buttons work again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-working]").forEach(function (form) {
      delete form.dataset.sent;
      var status = form.querySelector(".working");
      if (status) status.textContent = "";
      form.querySelectorAll("button[type=submit][aria-disabled]").forEach(function (b) {
        b.disabled = false;
        b.removeAttribute("aria-disabled");
      });
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    var bulk = document.getElementById("bulk-form");
    if (bulk) {
      selectAll(bulk);
      working(bulk);
    }
    var confirm = document.getElementById("bulk-confirm");
    if (confirm) working(confirm);
  });
})();
