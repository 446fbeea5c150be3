"""A remembered device's name from its browser's User-Agent: "Chrome on Linux".

ua-parser (the maintained port of the uap-core rules) reads the string; what it cannot
name stays "A browser", never the raw string (long, and unreadable to people).
"""

from __future__ import annotations

from functools import lru_cache

from django.utils.translation import gettext as _
from ua_parser import parse


@lru_cache(maxsize=1024)
def _families(user_agent: str) -> tuple[str, str]:
    result = parse(user_agent[:500])
    browser = result.user_agent.family if result.user_agent else ""
    system = result.os.family if result.os else ""
    return ("" if browser == "Other" else browser), ("" if system == "Other" else system)


def device_name(user_agent: str) -> str:
    """How people name the device: "Firefox on Windows", "Mobile Safari on iOS"."""
    browser, system = _families(user_agent or "")
    if browser and system:
        return _("%(browser)s on %(system)s") % {"browser": browser, "system": system}
    if browser:
        return browser
    if system:
        return _("A browser on %(system)s") % {"system": system}
    return _("A browser")
