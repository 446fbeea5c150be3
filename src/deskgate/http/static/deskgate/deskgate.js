// Deskgate's small behaviours. No inline scripts: the Content-Security-Policy forbids them.
(function () {
  "use strict";

  // User list: results as you type, from the same server-side search as the form.
  function liveSearch(form) {
    var target = document.getElementById(form.dataset.results);
    if (!target || !window.fetch) return;
    var timer = null;
    var seq = 0;
    function run() {
      var params = new URLSearchParams(new FormData(form));
      params.set("partial", "1");
      var mine = ++seq;
      fetch(form.action + "?" + params.toString(), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html !== null && mine === seq) {
            target.innerHTML = html;
            params.delete("partial");
            history.replaceState(null, "", form.action + "?" + params.toString());
          }
        });
    }
    form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(run, 200); });
    form.addEventListener("change", function () { clearTimeout(timer); run(); });
  }

  // Resend code: the link becomes usable when the countdown reaches zero.
  function countdown(el) {
    var button = document.getElementById(el.dataset.button);
    var left = parseInt(el.dataset.seconds, 10) || 0;
    function tick() {
      if (left <= 0) {
        el.textContent = "";
        if (button) button.disabled = false;
        return;
      }
      if (button) button.disabled = true;
      // The page gives the sentence in the reader's language, with {seconds} to fill in.
      var text = el.dataset.text || "You can ask for a new code in {seconds} s.";
      el.textContent = text.replace("{seconds}", left);
      left -= 1;
      setTimeout(tick, 1000);
    }
    tick();
  }

  // A button that copies the named field's text (the new API token) and says so.
  function copyButton(button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) return;
    button.hidden = false; // without scripts there is nothing to click: the field is selectable
    button.addEventListener("click", function () {
      field.select();
      var done = function () { button.textContent = button.dataset.copied || "Copied"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
      } else {
        document.execCommand("copy");
        done();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var search = document.getElementById("user-search");
    if (search) liveSearch(search);
    document.querySelectorAll("[data-countdown]").forEach(countdown);
    document.querySelectorAll("[data-copy]").forEach(copyButton);
  });
})();
