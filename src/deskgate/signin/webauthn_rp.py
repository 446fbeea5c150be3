"""WebAuthn relying-party primitives over py_webauthn: options and verification, no HTTP.

The RP ID and the origin come from `DESKGATE_BASE_URL` (conf.py), never from the request's
Host header: a passkey is bound to the RP ID it was made for, and a response signed on any
other origin (a phishing site's, say) is refused by the verification below.

Nothing here logs; nothing here keeps a challenge: the flows (`passkeys.py`) store and
consume challenges, and pass them in.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import parse_authentication_credential_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

RP_NAME = "Deskgate"
CHALLENGE_BYTES = 32
TIMEOUT_MS = 120_000
# Any JSON bigger than this is no credential of ours (a few hundred bytes is usual).
MAX_RESPONSE_CHARS = 16_000
KNOWN_TRANSPORTS = {t.value for t in AuthenticatorTransport}


class Refused(Exception):
    """The response is not a valid WebAuthn answer to our challenge, on our origin and RP
    ID. The message is for logs of the library's kind only: never shown, never audited."""


def rp_id() -> str:
    """The RP ID: the host of DESKGATE_BASE_URL (a passkey works on that site only)."""
    return urlsplit(settings.DESKGATE_BASE_URL).hostname or ""


def origin() -> str:
    """The one origin a browser's clientDataJSON may name: DESKGATE_BASE_URL's."""
    parts = urlsplit(settings.DESKGATE_BASE_URL)
    return f"{parts.scheme}://{parts.netloc}"


def new_challenge() -> bytes:
    return secrets.token_bytes(CHALLENGE_BYTES)


def user_handle(user_pk: int) -> bytes:
    """The WebAuthn user handle of a user: a keyed hash of the id, so that the key holds
    nothing personal (no user name, no id readable by another site)."""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"deskgate-passkey-user:{user_pk}".encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class Registered:
    credential_id: bytes
    public_key: bytes
    sign_count: int
    aaguid: str
    backed_up: bool
    device_type: str
    user_verified: bool


@dataclass(frozen=True)
class Asserted:
    credential_id: bytes
    new_sign_count: int
    backed_up: bool
    device_type: str
    user_verified: bool


def registration_options(
    *,
    challenge: bytes,
    user_pk: int,
    user_name: str,
    display_name: str,
    exclude: list[bytes],
    require_uv: bool,
) -> str:
    """The options for navigator.credentials.create(), as JSON (base64url fields).

    Resident keys preferred (a passkey that can sign in without a user name), user
    verification preferred, or required (admins); no attestation asked: we trust no
    vendor list, only the key's signatures afterwards.
    """
    options = generate_registration_options(
        rp_id=rp_id(),
        rp_name=RP_NAME,
        user_id=user_handle(user_pk),
        user_name=user_name,
        user_display_name=display_name,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=(
                UserVerificationRequirement.REQUIRED
                if require_uv
                else UserVerificationRequirement.PREFERRED
            ),
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=c) for c in exclude],
    )
    return options_to_json(options)


def authentication_options(*, challenge: bytes, allow: list[bytes], require_uv: bool) -> str:
    """The options for navigator.credentials.get(): the user's keys when the user is known
    (second factor), none for a discoverable credential (passwordless)."""
    options = generate_authentication_options(
        rp_id=rp_id(),
        challenge=challenge,
        timeout=TIMEOUT_MS,
        allow_credentials=[PublicKeyCredentialDescriptor(id=c) for c in allow],
        user_verification=(
            UserVerificationRequirement.REQUIRED
            if require_uv
            else UserVerificationRequirement.PREFERRED
        ),
    )
    return options_to_json(options)


def _load(raw: str) -> dict[str, Any]:
    if not raw or len(raw) > MAX_RESPONSE_CHARS:
        raise Refused("empty or too long")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise Refused("not JSON") from exc
    if not isinstance(data, dict):
        raise Refused("not an object")
    return data


def transports_of(raw: str) -> str:
    """The transports the browser reported at registration, known ones only."""
    try:
        listed = _load(raw).get("response", {}).get("transports", [])
    except (Refused, AttributeError):
        return ""
    if not isinstance(listed, list):
        return ""
    return " ".join(t for t in listed if isinstance(t, str) and t in KNOWN_TRANSPORTS)[:200]


def credential_id_of(raw: str) -> bytes:
    """The credential id an assertion names (to find the key it claims to be)."""
    try:
        return bytes(parse_authentication_credential_json(_load(raw)).raw_id)
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise Refused("malformed assertion") from exc


def user_handle_of(raw: str) -> bytes | None:
    """The user handle a discoverable credential's assertion carries, if any."""
    try:
        handle = parse_authentication_credential_json(_load(raw)).response.user_handle
    except (Refused, WebAuthnException, ValueError, TypeError, KeyError):
        return None
    return bytes(handle) if handle else None


def verify_registration(raw: str, *, challenge: bytes, require_uv: bool) -> Registered:
    """Check a navigator.credentials.create() answer against our challenge, origin, RP ID."""
    try:
        verified = verify_registration_response(
            credential=_load(raw),
            expected_challenge=challenge,
            expected_rp_id=rp_id(),
            expected_origin=origin(),
            require_user_verification=require_uv,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise Refused(type(exc).__name__) from exc
    return Registered(
        credential_id=bytes(verified.credential_id),
        public_key=bytes(verified.credential_public_key),
        sign_count=verified.sign_count,
        aaguid=str(verified.aaguid),
        backed_up=verified.credential_backed_up,
        device_type=str(verified.credential_device_type.value),
        user_verified=verified.user_verified,
    )


def verify_assertion(
    raw: str, *, challenge: bytes, public_key: bytes, require_uv: bool
) -> Asserted:
    """Check a navigator.credentials.get() answer: our challenge, origin and RP ID, and the
    signature of the stored public key. The sign counter is checked by the caller, in the
    database (one conditional UPDATE), so that a regression can be told apart and audited."""
    try:
        verified = verify_authentication_response(
            credential=_load(raw),
            expected_challenge=challenge,
            expected_rp_id=rp_id(),
            expected_origin=origin(),
            credential_public_key=public_key,
            credential_current_sign_count=0,
            require_user_verification=require_uv,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise Refused(type(exc).__name__) from exc
    return Asserted(
        credential_id=bytes(verified.credential_id),
        new_sign_count=verified.new_sign_count,
        backed_up=verified.credential_backed_up,
        device_type=str(verified.credential_device_type.value),
        user_verified=verified.user_verified,
    )


def key_amr(*, backed_up: bool, device_type: str, user_verified: bool) -> list[str]:
    """RFC 8176 amr values for a passkey use: `swk` for a synced (backed-up, multi-device)
    passkey, a software-held key; `hwk` for a key bound to one device (a security key, a
    platform authenticator's device-bound key); `user` when the authenticator verified the
    user. WebAuthn's UV flag does not say whether a PIN or a biometric did it, so `pin` is
    never claimed: `user` is what the flag proves."""
    synced = backed_up or device_type == CredentialDeviceType.MULTI_DEVICE.value
    return ["swk" if synced else "hwk", *(["user"] if user_verified else [])]
