// Passkeys and security keys (WebAuthn). No inline scripts: the Content-Security-Policy
// forbids them. A form with data-passkey="create" or "get" asks the server for options
// (a POST to data-passkey-options, with the form's CSRF token), lets the browser make or use
// a credential, puts the answer (base64url JSON) in the form's "credential" field and
// submits the form as usual: the server checks it against the challenge it stored.
(function () {
  "use strict";

  function toBuffer(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var bin = atob(b64);
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function listIds(list) {
    (list || []).forEach(function (c) { c.id = toBuffer(c.id); });
  }

  function creation(o) {
    o.challenge = toBuffer(o.challenge);
    o.user.id = toBuffer(o.user.id);
    listIds(o.excludeCredentials);
    return o;
  }

  function request(o) {
    o.challenge = toBuffer(o.challenge);
    listIds(o.allowCredentials);
    return o;
  }

  function asJson(cred) {
    var r = cred.response;
    var out = {
      id: cred.id,
      rawId: toText(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || null,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: toText(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = toText(r.attestationObject);
      out.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      out.response.authenticatorData = toText(r.authenticatorData);
      out.response.signature = toText(r.signature);
      if (r.userHandle) out.response.userHandle = toText(r.userHandle);
    }
    return out;
  }

  // `text` in English, or the page's own words for it (data-* on the status box, in the
  // reader's language) when `key` names one.
  function say(form, text, key) {
    var box = document.getElementById(form.dataset.passkeyStatus);
    if (!box) return;
    box.textContent = (key && box.dataset[key]) || text;
    box.hidden = false;
  }

  function run(form) {
    if (!window.PublicKeyCredential || !navigator.credentials) {
      say(form, "This browser cannot use passkeys or security keys here.", "unsupported");
      return;
    }
    var body = new FormData();
    var token = form.querySelector("input[name=csrfmiddlewaretoken]");
    body.append("csrfmiddlewaretoken", token ? token.value : "");
    if (form.dataset.passkeyFor) body.append("for", form.dataset.passkeyFor);
    var creating = form.dataset.passkey === "create";
    fetch(form.dataset.passkeyOptions, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (r) {
        return r.json().then(function (data) {
          if (!r.ok || !data.publicKey) {
            var refused = new Error(data.error || "");
            refused.fromServer = Boolean(data.error);
            throw refused;
          }
          return data.publicKey;
        });
      })
      .then(function (options) {
        return creating
          ? navigator.credentials.create({ publicKey: creation(options) })
          : navigator.credentials.get({ publicKey: request(options) });
      })
      .then(function (cred) {
        form.querySelector("input[name=credential]").value = JSON.stringify(asJson(cred));
        form.submit();
      })
      .catch(function (err) {
        if (err && err.fromServer) {
          say(form, err.message);
        } else if (creating) {
          say(form, "The key was not added: the browser or the key stopped it. Try again.", "notAdded");
        } else {
          say(form, "No passkey or security key was used. Try again, or use another way to sign in.", "notUsed");
        }
      });
  }

  document.querySelectorAll("form[data-passkey]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      run(form);
    });
  });
})();
