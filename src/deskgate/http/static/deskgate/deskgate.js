// Deskgate's small behaviours. No inline scripts: the Content-Security-Policy forbids them.
(function () {
  "use strict";

  // User list: results as you type, from the same server-side search as the form. Only their
  // count is announced, in a live region of its own: the whole table re-read on every key
  // would drown the person typing.
  function liveSearch(form) {
    var target = document.getElementById(form.dataset.results);
    if (!target || !window.fetch) return;
    // The count ("3 users matching ...") is lifted out of the results into one place of
    // its own, a polite live region, where each new count replaces the last.
    var status = target.querySelector(".count") || document.createElement("p");
    status.className = "count";
    status.setAttribute("aria-live", "polite");
    target.parentNode.insertBefore(status, target);
    var timer = null;
    var seq = 0;
    // The last search asked for. Leaving the box fires "change" for what was already
    // searched as it was typed; asking again would be wasted, and worse: a click on a result
    // leaves the box when the button goes down, and if the answer replaced the results
    // before it came up, the click fell between two links and opened nothing.
    var asked = new URLSearchParams(new FormData(form)).toString();
    // A button held down on the results (a click under way, say on a result of what was
    // typed a moment ago): a new answer waits until the click has happened.
    var pressed = false;
    var waiting = null;
    target.addEventListener("pointerdown", function () { pressed = true; });
    function released() {
      pressed = false;
      if (waiting) setTimeout(waiting, 0); // after the click this release makes
      waiting = null;
    }
    window.addEventListener("pointerup", released);
    window.addEventListener("pointercancel", released);
    function run() {
      var params = new URLSearchParams(new FormData(form));
      if (params.toString() === asked) return;
      asked = params.toString();
      params.set("partial", "1");
      var mine = ++seq;
      fetch(form.action + "?" + params.toString(), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html === null || mine !== seq) return;
          params.delete("partial");
          var show = function () {
            if (mine !== seq) return;
            target.innerHTML = html;
            var count = target.querySelector(".count");
            status.textContent = count ? count.textContent : "";
            if (count) count.remove();
            history.replaceState(null, "", form.action + "?" + params.toString());
          };
          if (pressed) waiting = show;
          else show();
        });
    }
    form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(run, 200); });
    form.addEventListener("change", function () { clearTimeout(timer); run(); });
  }

  // Resend code: the link becomes usable when the countdown reaches zero. The seconds are
  // shown, not announced; that the button is usable again is announced once.
  function countdown(el) {
    var button = document.getElementById(el.dataset.button);
    var ready = document.getElementById(el.dataset.readyStatus);
    var left = parseInt(el.dataset.seconds, 10) || 0;
    var counted = left > 0;
    function tick() {
      if (left <= 0) {
        el.textContent = "";
        if (button) button.disabled = false;
        if (ready && counted) ready.textContent = ready.dataset.text;
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

  // The menu on a narrow screen: folded behind its button, which the page ships hidden and
  // open so that the menu works without scripts. The stylesheet hides the menu only while
  // the button says aria-expanded="false", and shows the button only on narrow screens.
  function menuToggle(button) {
    var menu = document.getElementById(button.getAttribute("aria-controls"));
    if (!menu) return;
    function show(open) { button.setAttribute("aria-expanded", open ? "true" : "false"); }
    show(false);
    button.hidden = false;
    button.addEventListener("click", function () {
      show(button.getAttribute("aria-expanded") !== "true");
    });
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape" || button.getAttribute("aria-expanded") !== "true") return;
      if (!menu.contains(document.activeElement) && document.activeElement !== button) return;
      show(false);
      button.focus();
    });
  }

  // A page that comes back with errors: the focus goes to the summary of what went wrong,
  // else to the first field in error (whose error is its description).
  function focusErrors() {
    var target = document.querySelector("[data-error-summary]") ||
      document.querySelector("input[aria-invalid=true], select[aria-invalid=true], textarea[aria-invalid=true]");
    if (target) target.focus();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.querySelector("button.menu-toggle[aria-controls]");
    if (toggle) menuToggle(toggle);
    focusErrors();
    var search = document.getElementById("user-search");
    if (search) liveSearch(search);
    document.querySelectorAll("[data-countdown]").forEach(countdown);
    document.querySelectorAll("[data-copy]").forEach(copyButton);
  });
})();
