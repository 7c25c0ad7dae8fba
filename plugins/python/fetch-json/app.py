# troupe-world: http-actor
"""`FetchJson`: an actor written in Python that calls a JSON API over `wasi:http`.

Input: `{"url": "https://api.example.com/v1/x", "method": "GET", "json": {...},
"headers": {"authorization": "..."}, "timeoutMs": 10000}`; only `url` is required, the
method defaults to GET (POST when `json` is given). Output: `{"status": 200, "body":
<the reply as JSON>}`. Anything but a 2xx reply, a reply that is not JSON, or a request
the host refuses fails the task with a message naming the method and the URL.

It reaches nothing unless the manifest grants it (`[actors.FetchJson] allow-http =
["https://api.example.com"]`); the host checks every request against the grant and its
limits (`http-requests`, `http-response-bytes`, `http-timeout-ms`). Built by `cargo
xtask build` with componentize-py against the `http-actor` world: troupe's
`actor-component` world plus `wasi:http/outgoing-handler` (README, "Outgoing HTTP").
"""

import json
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import outgoing_handler, streams
from wit_world.imports.wasi_http_types import (
    ErrorCode,
    ErrorCode_ConnectionReadTimeout,
    ErrorCode_ConnectionTimeout,
    ErrorCode_HttpResponseTimeout,
    ErrorCode_InternalError,
    Fields,
    Method,
    Method_Delete,
    Method_Get,
    Method_Patch,
    Method_Post,
    Method_Put,
    OutgoingBody,
    OutgoingRequest,
    RequestOptions,
    Scheme_Http,
    Scheme_Https,
)

#: `timeoutMs` when the input does not say, and the most it may ask for.
DEFAULT_TIMEOUT_MS = 10_000
MAX_TIMEOUT_MS = 300_000
#: How much of an error reply the failure message quotes.
QUOTED_CHARS = 200
#: Largest chunk handed to the host at once (`blocking-write-and-flush` takes 4096).
CHUNK = 4096

METHODS: Dict[str, Method] = {
    "GET": Method_Get(),
    "POST": Method_Post(),
    "PUT": Method_Put(),
    "PATCH": Method_Patch(),
    "DELETE": Method_Delete(),
}


class Failed(Exception):
    """The task fails with this message."""


def request_of(task: Any) -> Tuple[str, str, Optional[bytes], List[Tuple[str, bytes]], int]:
    """The method, URL, body, headers and timeout the input asks for; bad input is an error
    naming the field, never a request sent anyway."""
    if not isinstance(task, dict):
        raise Failed(f"the input must be an object with a `url`, not {json.dumps(task)[:100]}")
    url = task.get("url")
    if not isinstance(url, str):
        raise Failed(f"input.url must be a string, not {json.dumps(url)[:100]}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Failed(f"input.url must be an http:// or https:// URL, not {json.dumps(url[:200])}")
    if parts.username is not None or parts.password is not None:
        raise Failed("input.url must not carry credentials (user:password@): send them in `headers`")
    body = None
    if "json" in task:
        body = json.dumps(task["json"], separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    method = task.get("method", "POST" if body is not None else "GET")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise Failed(f"input.method must be one of {', '.join(METHODS)}, not {json.dumps(method)[:100]}")
    headers = task.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise Failed("input.headers must be an object of strings")
    fields = [(name.lower(), value.encode("utf-8")) for name, value in headers.items()]
    fields.append(("accept", b"application/json"))
    if body is not None:
        fields.append(("content-type", b"application/json"))
        fields.append(("content-length", str(len(body)).encode()))
    timeout = task.get("timeoutMs", DEFAULT_TIMEOUT_MS)
    if type(timeout) is not int or not 1 <= timeout <= MAX_TIMEOUT_MS:
        raise Failed(f"input.timeoutMs must be a whole number of milliseconds from 1 to {MAX_TIMEOUT_MS}, "
                     f"not {json.dumps(timeout)[:100]}")
    return method.upper(), url, body, fields, timeout


def describe(code: ErrorCode) -> str:
    """An error code as words; troupe's refusals arrive as `internal-error` with the host's
    own message (naming the actor and the URL), passed on as it is."""
    if isinstance(code, ErrorCode_InternalError) and code.value:
        return code.value
    if isinstance(code, (ErrorCode_ConnectionReadTimeout, ErrorCode_ConnectionTimeout, ErrorCode_HttpResponseTimeout)):
        return "timed out"
    return type(code).__name__.removeprefix("ErrorCode_")


def send(method: str, url: str, body: Optional[bytes], fields: List[Tuple[str, bytes]],
         timeout_ms: int) -> Tuple[int, bytes]:
    """One request, its reply read whole: `(status, body)`."""
    parts = urlsplit(url)
    request = OutgoingRequest(Fields.from_list(fields))
    request.set_method(METHODS[method])
    request.set_scheme(Scheme_Https() if parts.scheme == "https" else Scheme_Http())
    request.set_authority(parts.netloc)
    request.set_path_with_query((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
    options = RequestOptions()
    nanos = timeout_ms * 1_000_000
    options.set_connect_timeout(nanos)
    options.set_first_byte_timeout(nanos)
    options.set_between_bytes_timeout(nanos)
    outgoing = request.body()
    try:
        pending = outgoing_handler.handle(request, options)
    except Err as e:
        raise Failed(f"{method} {url} failed: {describe(e.value)}") from None
    # A request the host refuses closes the body stream while it is written: the
    # response's error (the refusal, naming the URL) says why, so it is read first.
    unsent = None
    try:
        with outgoing.write() as stream:
            for start in range(0, len(body or b""), CHUNK):
                stream.blocking_write_and_flush(body[start:start + CHUNK])
        OutgoingBody.finish(outgoing, None)
    except Err as e:
        unsent = f"{method} {url} failed while sending the body: {type(e.value).__name__}"
    # Child resources go before their parents (a stream before its body, a body before
    # its response), so each is used in a `with` that drops it at once.
    with pending.subscribe() as ready:
        ready.block()
    answered = pending.get()
    if answered is None or isinstance(answered, Err):
        raise Failed(unsent or f"{method} {url} failed: the response was lost")
    if isinstance(answered.value, Err):
        raise Failed(f"{method} {url} failed: {describe(answered.value.value)}")
    if unsent:
        raise Failed(unsent)
    read = bytearray()
    with answered.value.value as response:
        status = response.status()
        with response.consume() as incoming, incoming.stream() as stream:
            while True:
                try:
                    read += stream.blocking_read(64 * 1024)
                except Err as e:
                    if isinstance(e.value, streams.StreamError_Closed):
                        break
                    raise Failed(f"{method} {url} failed while reading the reply") from None
    return status, bytes(read)


class Actor(exports.Actor):
    def invoke(self, input: str) -> str:
        try:
            method, url, body, fields, timeout_ms = request_of(json.loads(input))
            status, reply = send(method, url, body, fields, timeout_ms)
        except Failed as failed:
            raise Err(str(failed)) from None
        text = reply.decode("utf-8", "replace")
        if not 200 <= status <= 299:
            quoted = " ".join(text.split())[:QUOTED_CHARS]
            raise Err(f"{method} {url} answered {status}" + (f": {quoted}" if quoted else ""))
        try:
            parsed = json.loads(text) if text.strip() else None
        except ValueError:
            raise Err(f"{method} {url} answered {status} with a body that is not JSON: "
                      f"{' '.join(text.split())[:QUOTED_CHARS]}") from None
        return json.dumps({"status": status, "body": parsed})
