"""Errors the core raises on purpose.

Every error a user can cause is a :class:`HitlError` with a message written for that
user; the CLI prints it to stderr and the pages show it with ``st.error``. Anything
else escaping the core is a bug.
"""

from __future__ import annotations


class HitlError(Exception):
    """Base class: a failure with a message meant for the person who caused it."""

    exit_code = 1


class InvalidInput(HitlError, ValueError):
    """The request itself is wrong (bad label, unknown point, missing column, ...)."""

    exit_code = 2


class NotReady(HitlError):
    """The workspace lacks something the request needs (no model yet, no dataset, ...)."""

    exit_code = 3


class Busy(HitlError):
    """Another process holds the resource (a retrain is already running, ...)."""

    exit_code = 4


class IntegrityError(HitlError):
    """Stored state does not match what was recorded about it; refused, never repaired silently."""

    exit_code = 5
