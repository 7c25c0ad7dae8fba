"""Delivering a notifier's message to the webhook the run's input names.

The notifiers receive `notify` next to `result` (the pipeline passes
`$.trigger.notify`): `{"webhookUrl": "https://...", "timeoutMs": 10000}`, both optional.
With no `webhookUrl` nothing leaves the process, exactly like the wasm notifiers. With
one, the message is POSTed as JSON; anything but a 2xx reply within the timeout fails
the task with a message naming the URL and what went wrong.

Only the standard library: urllib runs in a thread so the worker's event loop never
blocks, and `asyncio.wait_for` bounds the whole exchange (urllib's own timeout bounds
each socket operation, so the thread ends too).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import urllib.error
import urllib.request
from typing import Any, Optional, Tuple
from urllib.parse import urlsplit

#: How long a delivery may take when the input does not say.
DEFAULT_TIMEOUT_MS = 10_000
#: The longest `timeoutMs` accepted: a task must not hold its worker slot for long.
MAX_TIMEOUT_MS = 300_000
#: How much of an error reply's body the failure message quotes.
QUOTED_CHARS = 200


class DeliveryFailed(RuntimeError):
    """The webhook did not accept the message; the task fails with this message."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx is not a delivery: following it would re-send (or drop) the body somewhere
    the run's input never named. Node's worker refuses redirects the same way."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001 - urllib's signature
        return None


# No proxy from the environment either: the message goes where the input says, as with
# Node's fetch, which ignores `http_proxy`.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())


def webhook_of(task: Any) -> Optional[Tuple[str, int]]:
    """The URL and timeout (ms) `task["notify"]` asks for, or None when it names no URL.
    Raises ValueError for a `notify` that is there but unusable: input from Redis is
    untrusted, and a typo must not pass as "no webhook"."""
    notify = task.get("notify") if isinstance(task, dict) else None
    if notify is None:
        return None
    if not isinstance(notify, dict):
        raise ValueError('input.notify must be an object like {"webhookUrl": "https://..."}, '
                         f"not {json.dumps(notify)[:100]}")
    url = notify.get("webhookUrl")
    if url is None:
        return None
    if not isinstance(url, str):
        raise ValueError(f"input.notify.webhookUrl must be a string, not {json.dumps(url)[:100]}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"input.notify.webhookUrl must be an http:// or https:// URL, not {json.dumps(url[:200])}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("input.notify.webhookUrl must not carry credentials (user:password@); put a token in the path")
    timeout = notify.get("timeoutMs", DEFAULT_TIMEOUT_MS)
    if type(timeout) is not int or not 1 <= timeout <= MAX_TIMEOUT_MS:
        raise ValueError(f"input.notify.timeoutMs must be a whole number of milliseconds from 1 to {MAX_TIMEOUT_MS}, "
                         f"not {json.dumps(timeout)[:100]}")
    return url, timeout


def _post(url: str, body: bytes, timeout_ms: int) -> None:
    """The blocking POST; raises DeliveryFailed with what the failure message says."""
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json",
        "User-Agent": "troupe-document-example (python)",
    })
    try:
        with _OPENER.open(request, timeout=timeout_ms / 1000) as reply:
            reply.read(65536)
    except urllib.error.HTTPError as error:
        quoted = " ".join(error.read(QUOTED_CHARS * 4).decode("utf-8", "replace").split())[:QUOTED_CHARS]
        status = f"POST {url} answered {error.code} {error.reason}"
        raise DeliveryFailed(f"{status}: {quoted}" if quoted else status) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as error:
        # ValueError: a URL http.client refuses (control characters, a bad port).
        reason = error.reason if isinstance(error, urllib.error.URLError) else error
        if isinstance(reason, (TimeoutError, socket.timeout)):
            raise DeliveryFailed(_timed_out(url, timeout_ms)) from None
        raise DeliveryFailed(f"POST {url} failed: {reason or type(reason).__name__}") from None


def _timed_out(url: str, timeout_ms: int) -> str:
    return f"POST {url} timed out after {timeout_ms} ms"


async def deliver(task: Any, message: Any) -> None:
    """POST `message` to the webhook `task` names, if any; raise DeliveryFailed (naming
    the URL and the reply's status or the error) unless it answers 2xx. troupe names the
    actor and the task next to the message."""
    webhook = webhook_of(task)
    if webhook is None:
        return
    url, timeout_ms = webhook
    body = json.dumps(message).encode("utf-8")
    try:
        await asyncio.wait_for(asyncio.to_thread(_post, url, body, timeout_ms), timeout_ms / 1000)
    except asyncio.TimeoutError:
        raise DeliveryFailed(_timed_out(url, timeout_ms)) from None
