"""RFC 6238 time-based one-time passwords (HMAC-SHA1, 6 digits, 30 s steps), as the
authenticator apps brokers enrol compute them: the platform logs an account in by itself from
the stored base32 secret. The time is an input."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from datetime import datetime

STEP_S = 30
DIGITS = 6


def totp(secret_base32: str, at: datetime, *, step_s: int = STEP_S, digits: int = DIGITS) -> str:
    """The code valid at `at`; raises ValueError for a secret that is not base32."""
    cleaned = secret_base32.replace(" ", "").upper()
    try:
        key = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except binascii.Error:
        raise ValueError("the TOTP secret is not base32") from None
    counter = int(at.timestamp()) // step_s
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 10**digits
    return str(code).zfill(digits)
