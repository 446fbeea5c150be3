"""A software authenticator for tests: real WebAuthn objects signed with ES256.

`SoftKey` answers the options the server gives (as JSON, base64url) the way a browser with
a security key does: `create()` makes a "none" attestation (CBOR attestationObject with
authenticatorData: RP ID hash, flags, counter, attested credential data with a COSE EC2
key) and `get()` an assertion signed over authenticatorData || SHA-256(clientDataJSON).
The server's real py_webauthn verification runs on them. Origin, RP ID, user verification,
backup flags and the counter can be set per call, to play a phishing site, a cloned key or
a key without a PIN.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from deskgate.signin import webauthn_rp

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftKey:
    def __init__(self, *, uv: bool = True, synced: bool = False, counts: bool = True) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.uv = uv
        self.synced = synced  # a backed-up (multi-device) passkey: BE and BS set
        self.counts = counts  # a key with a sign counter (synced passkeys often have none)
        self.sign_count = 0
        self.user_handle = b""

    def cose_key(self) -> bytes:
        numbers = self.private.public_key().public_numbers()
        x, y = numbers.x.to_bytes(32, "big"), numbers.y.to_bytes(32, "big")
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: x, -3: y})

    def _auth_data(self, rp_id: str, *, uv: bool, attested: bool, count: int) -> bytes:
        flags = UP | (UV if uv else 0) | ((BE | BS) if self.synced else 0)
        data = hashlib.sha256(rp_id.encode()).digest()
        if attested:
            flags |= AT
        data += bytes([flags]) + struct.pack(">I", count)
        if attested:
            cid = self.credential_id
            data += bytes(16) + struct.pack(">H", len(cid)) + cid + self.cose_key()
        return data

    @staticmethod
    def _client_data(kind: str, options: dict[str, Any], origin: str | None) -> bytes:
        return json.dumps(
            {
                "type": kind,
                "challenge": options["challenge"],
                "origin": origin or webauthn_rp.origin(),
                "crossOrigin": False,
            }
        ).encode()

    def create(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        uv: bool | None = None,
    ) -> str:
        """The answer to navigator.credentials.create(publicKey=options), as posted."""
        self.user_handle = unb64u(options["user"]["id"])
        client_data = self._client_data("webauthn.create", options, origin)
        auth_data = self._auth_data(
            rp_id or options["rp"]["id"],
            uv=self.uv if uv is None else uv,
            attested=True,
            count=self.sign_count,
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        cid = b64u(self.credential_id)
        return json.dumps(
            {
                "id": cid,
                "rawId": cid,
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64u(client_data),
                    "attestationObject": b64u(attestation),
                    "transports": ["usb"],
                },
                "clientExtensionResults": {},
            }
        )

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        uv: bool | None = None,
        count: int | None = None,
    ) -> str:
        """The answer to navigator.credentials.get(publicKey=options), as posted."""
        if count is None:
            if self.counts:
                self.sign_count += 1
            count = self.sign_count
        client_data = self._client_data("webauthn.get", options, origin)
        auth_data = self._auth_data(
            rp_id or options["rpId"], uv=self.uv if uv is None else uv, attested=False, count=count
        )
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = self.private.sign(signed, ec.ECDSA(hashes.SHA256()))
        cid = b64u(self.credential_id)
        return json.dumps(
            {
                "id": cid,
                "rawId": cid,
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64u(client_data),
                    "authenticatorData": b64u(auth_data),
                    "signature": b64u(signature),
                    "userHandle": b64u(self.user_handle) if self.user_handle else None,
                },
                "clientExtensionResults": {},
            }
        )


# -- the product's flows and pages, driven with a SoftKey -----------------------------------


def enrol_key(user: Any, key: SoftKey | None = None, name: str = "") -> SoftKey:
    """Add a key as the user would, through the flows (options, then the key's answer)."""
    from deskgate.accounts.audit import Actor
    from deskgate.signin import passkeys

    key = key or SoftKey()
    token, options = passkeys.registration_options(user)
    passkeys.register(
        user,
        key.create(json.loads(options)),
        token=token,
        name=name,
        by=Actor(user=user, ip="127.0.0.1"),
    )
    return key


def add_on_page(http: Any, key: SoftKey, name: str = "", **kw: Any) -> Any:
    """The account page's Add: options fetched, the key's answer posted with its name."""
    options = http.post("/account/passkeys/options/").json()["publicKey"]
    return http.post(
        "/account/passkeys/add/", {"credential": key.create(options, **kw), "name": name}
    )


def use_at_code_step(http: Any, key: SoftKey, **kw: Any) -> Any:
    """The code page's "Use a passkey or security key": options, then the key's answer."""
    options = http.post("/signin/passkey/options/").json()["publicKey"]
    return http.post(
        "/signin/code/",
        {"action": "verify_passkey", "with": "passkey", "credential": key.get(options, **kw)},
    )


def sign_in_passwordless(http: Any, key: SoftKey, **kw: Any) -> Any:
    """The sign-in page's "Sign in with a passkey": no user name typed."""
    options = http.post("/signin/passkey/options/", {"for": "passwordless"}).json()["publicKey"]
    return http.post("/signin/passkey/", {"credential": key.get(options, **kw)})


def signed_in_with_key(user: Any, key: SoftKey) -> Any:
    """A browser signed in as `user` with the password, then the key at the code step."""
    from django.test import Client as HttpClient

    from tests.conftest import sign_in

    http = HttpClient()
    assert sign_in(http, user)["Location"] == "/signin/code/"
    done = use_at_code_step(http, key)
    assert done["Location"] == "/", done
    return http
