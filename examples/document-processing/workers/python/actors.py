"""The eight actors of examples/document-processing, in Python.

Each one returns, for the same input, the same value as its wasm twin in
plugins/examples/ (the tests compare whole runs), so the Rust semantics they mirror are
spelled out here: `Value::get` (a field of an object, "absent" for anything else),
`as_u64` (a whole number from 0 to 2^64-1, never a bool or a float), `as_str`,
`char::is_whitespace` (Unicode White_Space, narrower than `str.isspace`) and
`max_by_key` (the last of equal maxima wins).

The three notifiers also deliver their message to the webhook the run's input names
(`webhook.py`); their result is the message either way.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from webhook import deliver

#: Rust's `char::is_whitespace`: the Unicode White_Space property.
WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_WORDS = re.compile(f"[{WHITESPACE}]+")
_NOT_DATE_CHAR = re.compile(r"[^0-9-]")
_DIGITS = "0123456789"

#: Document types and the phrases that mark them, as file-processor's `TYPES`.
TYPES = [
    ("invoice", ["invoice", "amount due", "bill to"]),
    ("receipt", ["receipt", "total paid", "thank you for your purchase"]),
    ("contract", ["agreement", "hereinafter", "the parties"]),
    ("report", ["summary", "findings", "quarter"]),
]

ABSENT = object()


def get(value: Any, key: str) -> Any:
    """`Value::get(key)`: the field, or ABSENT when `value` is no object or lacks it."""
    return value.get(key, ABSENT) if isinstance(value, dict) else ABSENT


def json_or_null(value: Any) -> Any:
    """An `Option<&Value>` serialised: ABSENT becomes null."""
    return None if value is ABSENT else value


def as_u64(value: Any) -> Optional[int]:
    return value if type(value) is int and 0 <= value < 2**64 else None


def as_str(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None


def str_or(value: Any, default: str) -> str:
    """`value.as_str().unwrap_or(default)`: an empty string is kept."""
    return value if isinstance(value, str) else default


def u64_or_0(value: Any) -> int:
    n = as_u64(value)
    return 0 if n is None else n


def words(text: str) -> List[str]:
    """`str::split_whitespace`."""
    return [w for w in _WORDS.split(text) if w]


def array(value: Any, message: str) -> List[Any]:
    if not isinstance(value, list):
        raise ValueError(message)
    return value


def pages_of(group: Any) -> Any:
    """`group.pointer("/result/pages")`."""
    return get(get(group, "result"), "pages")


def kind_of(group: Any) -> str:
    return str_or(get(group, "key"), "other")


def file_processor(task: Any) -> Dict[str, Any]:
    """Classifies one page by the phrases in its text: `{path, text}` ->
    `{path, documentType, title, words}`."""
    path, text = as_str(get(task, "path")), as_str(get(task, "text"))
    if path is None:
        raise ValueError("input.path is required")
    if text is None:
        raise ValueError("input.text is required")
    lower = text.lower()
    document_type, best = "other", 0
    for kind, marks in TYPES:
        hits = sum(1 for mark in marks if mark in lower)
        if hits > 0 and hits >= best:
            document_type, best = kind, hits
    lines = (line.strip(WHITESPACE) for line in text.split("\n"))
    title = next((line for line in lines if line), "")
    return {"path": path, "documentType": document_type, "title": title, "words": len(words(text))}


def consolidator(task: Any) -> Dict[str, Any]:
    """One document type's pages into one record: `{group: {key, items}}`."""
    group = get(task, "group")
    if group is ABSENT:
        raise ValueError("input.group is required")
    items = array(get(group, "items"), "input.group.items must be an array")
    total = sum(n for n in (as_u64(get(p, "words")) for p in items) if n is not None)
    return {
        "documentType": json_or_null(get(group, "key")),
        "pages": len(items),
        "words": total,
        "paths": [v for v in (get(p, "path") for p in items) if v is not ABSENT],
        "titles": [v for v in (get(p, "title") for p in items) if v is not ABSENT],
    }


def groups_of(task: Any) -> List[Any]:
    return array(get(task, "result"), "input.result must be the consolidated groups")


def email_message(task: Any) -> Dict[str, Any]:
    groups = groups_of(task)
    pages = sum(n for n in (as_u64(pages_of(g)) for g in groups) if n is not None)
    body = f"{pages} pages processed in {len(groups)} document types:\n"
    for g in groups:
        n = u64_or_0(pages_of(g))
        body += f"  - {kind_of(g)}: {n} page{'' if n == 1 else 's'}\n"
    return {"channel": "email", "subject": f"Documents processed: {pages} pages", "body": body}


def slack_message(task: Any) -> Dict[str, Any]:
    parts = [f"{u64_or_0(pages_of(g))} {kind_of(g)}" for g in groups_of(task)]
    return {"channel": "slack", "text": f":page_facing_up: Processed {', '.join(parts)}"}


def webhook_message(task: Any) -> Dict[str, Any]:
    counts: Dict[str, Any] = {}
    for g in groups_of(task):
        pages = pages_of(g)
        counts[kind_of(g)] = 0 if pages is ABSENT else pages
    return {"channel": "webhook", "payload": {"event": "documents.processed", "pagesByType": counts}}


async def email_notifier(task: Any) -> Dict[str, Any]:
    """The email reporting the consolidated documents: `{result: [{key, result}], notify?}`."""
    message = email_message(task)
    await deliver(task, message)
    return message


async def slack_notifier(task: Any) -> Dict[str, Any]:
    """A one-line Slack message about the consolidated documents."""
    message = slack_message(task)
    await deliver(task, message)
    return message


async def webhook_notifier(task: Any) -> Dict[str, Any]:
    """The JSON event a webhook receives: pages by document type."""
    message = webhook_message(task)
    await deliver(task, message)
    return message


def amounts(text: str) -> List[str]:
    """Words like `$1,250.00`, cut after their last digit."""
    found = []
    for word in words(text):
        if len(word) > 1 and word[0] == "$" and word[1] in _DIGITS:
            end = len(word)
            while end > 0 and word[end - 1] not in _DIGITS:
                end -= 1
            found.append(word[:end])
    return found


def dates(text: str) -> List[str]:
    """Runs of digits and dashes shaped like `2026-11-02`."""
    return [w for w in _NOT_DATE_CHAR.split(text) if len(w) == 10 and w[4] == "-" and w[7] == "-"]


def data_extractor(task: Any) -> Dict[str, Any]:
    """Money amounts and ISO dates from the pages' titles: `{pages}`."""
    pages = array(get(task, "pages"), "input.pages must be an array")
    found = []
    for p in pages:
        if p is None:
            continue
        title = str_or(get(p, "title"), "")
        found.append({"path": json_or_null(get(p, "path")), "amounts": amounts(title), "dates": dates(title)})
    return {"extracted": found}


def validator(task: Any) -> Dict[str, Any]:
    """Checks every page was classified and had text: `{pages}`."""
    pages = array(get(task, "pages"), "input.pages must be an array")
    issues = []
    for i, p in enumerate(pages):
        path = str_or(get(p, "path"), "?")
        if p is None:
            issues.append(f"page {i} has no result")
        elif as_str(get(p, "documentType")) == "other":
            issues.append(f"{path} could not be classified")
        elif as_u64(get(p, "words")) == 0:
            issues.append(f"{path} is empty")
    return {"valid": not issues, "checked": len(pages), "issues": issues}


def transformer(task: Any) -> Dict[str, Any]:
    """The consolidated groups as CSV: `{groups}`."""
    groups = array(get(task, "groups"), "input.groups must be an array")
    csv = "documentType,pages,words\n"
    for g in groups:
        r = get(g, "result")
        csv += f"{kind_of(g)},{u64_or_0(get(r, 'pages'))},{u64_or_0(get(r, 'words'))}\n"
    return {"format": "csv", "csv": csv}


#: What the worker serves, by the names the manifest and the pipeline use.
ACTORS = {
    "FileProcessor": file_processor,
    "Consolidator": consolidator,
    "EmailNotifier": email_notifier,
    "SlackNotifier": slack_notifier,
    "WebhookNotifier": webhook_notifier,
    "DataExtractor": data_extractor,
    "Validator": validator,
    "Transformer": transformer,
}
