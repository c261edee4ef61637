"""API tokens (issue 14): stored as a SHA-256 digest, shown once, optionally expiring or read-only.

``models`` holds the row, ``services`` makes, checks and revokes tokens,
``auth`` is the REST framework authentication class, ``views`` and ``forms``
the token page, ``admin`` the admin's read-only list.
"""
