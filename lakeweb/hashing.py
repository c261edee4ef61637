"""A SHA-256 whose state can be saved between requests and resumed.

Resumable uploads hash each file as its chunks stream through, one request
per chunk, possibly on different processes and across a server restart, so
the state must live in the database between chunks. hashlib's objects cannot
be saved. OpenSSL's SHA256_CTX is a plain 112-byte struct, so lakeweb drives
the same libcrypto that Python's hashlib uses through ctypes and saves the
struct; where that library is not found, the slower ``resumablesha256``
package (a C implementation with picklable state) is used. A saved state
names its implementation, so it is only resumed by the same one.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import pickle
from typing import Any


class _Ctx(ctypes.Structure):
    # SHA256_CTX from openssl/sha.h (SHA_LONG is 32-bit, SHA_LBLOCK is 16)
    _fields_ = [
        ("h", ctypes.c_uint32 * 8),
        ("Nl", ctypes.c_uint32),
        ("Nh", ctypes.c_uint32),
        ("data", ctypes.c_uint32 * 16),
        ("num", ctypes.c_uint),
        ("md_len", ctypes.c_uint),
    ]


def _libcrypto() -> Any:
    name = ctypes.util.find_library("crypto")
    if not name:
        return None
    try:
        lib = ctypes.CDLL(name)
        lib.SHA256_Init.argtypes = [ctypes.POINTER(_Ctx)]
        lib.SHA256_Update.argtypes = [ctypes.POINTER(_Ctx), ctypes.c_char_p, ctypes.c_size_t]
        lib.SHA256_Final.argtypes = [ctypes.c_char_p, ctypes.POINTER(_Ctx)]
    except (OSError, AttributeError):
        return None
    return lib


_LIB = _libcrypto()
OPENSSL, FALLBACK = b"o", b"r"


class ResumableSHA256:
    """``update`` / ``hexdigest`` like hashlib, plus ``state()`` and ``from_state()``."""

    def __init__(self) -> None:
        if _LIB is not None:
            self._ctx: Any = _Ctx()
            _LIB.SHA256_Init(ctypes.byref(self._ctx))
        else:
            import resumablesha256

            self._ctx = resumablesha256.sha256()

    def update(self, data: bytes) -> None:
        if _LIB is not None:
            _LIB.SHA256_Update(ctypes.byref(self._ctx), data, len(data))
        else:
            self._ctx.update(data)

    def hexdigest(self) -> str:
        if _LIB is None:
            return self._ctx.hexdigest()
        ctx = _Ctx.from_buffer_copy(bytes(self._ctx))  # Final must not spoil our state
        out = ctypes.create_string_buffer(32)
        _LIB.SHA256_Final(out, ctypes.byref(ctx))
        return out.raw.hex()

    def state(self) -> bytes:
        if _LIB is not None:
            return OPENSSL + bytes(self._ctx)
        return FALLBACK + pickle.dumps(self._ctx)

    @classmethod
    def from_state(cls, state: bytes | memoryview) -> ResumableSHA256:
        hasher = cls()
        kind, body = state[:1], state[1:]
        if kind == OPENSSL and _LIB is not None:
            hasher._ctx = _Ctx.from_buffer_copy(body)
        elif kind == FALLBACK and _LIB is None:
            hasher._ctx = pickle.loads(body)  # noqa: S301 - a state this code saved in its own row
        else:
            raise ValueError("the saved hash state comes from another SHA-256 implementation")
        return hasher
