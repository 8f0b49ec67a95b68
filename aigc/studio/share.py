"""Links that reopen exactly what a person was looking at.

A tab's state (the model, the seed, every setting that changes the output)
travels as the query string of the app's own URL, ``?tab=gan&model=...``, or as
the same fields in JSON.  Values arrive as text and are checked by the tab
that restores them, like any other input: a link is just another client.
"""

import json
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode

from aigc.studio import InputError

TABS = ("gan", "vae", "text", "compare")
MAX_LINK_CHARS = 100_000  # a 20,000-character prompt, percent-encoded, fits


def query_string(tab: str, state: Mapping) -> str:
    """"?tab=...&key=value...": lists are comma-separated, None is left out."""
    if tab not in TABS:
        raise ValueError(f"unknown tab {tab!r}")
    fields = {"tab": tab}
    for key, value in state.items():
        if value is None:
            continue
        fields[key] = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    return "?" + urlencode(fields)


def as_json(tab: str, state: Mapping) -> str:
    return json.dumps({"tab": tab, **{key: value for key, value in state.items() if value is not None}})


def read(shared) -> tuple[str, dict[str, str]]:
    """A query string (with or without "?", or a whole URL), its parsed fields, or the JSON -> (tab, fields).

    Fields come back as text (lists comma-separated), ready for the tab's own checks.
    """
    if isinstance(shared, Mapping):
        fields = dict(shared)
    else:
        text = str(shared or "").strip()
        if not text:
            raise InputError("Paste a share link or its JSON first")
        if len(text) > MAX_LINK_CHARS:
            raise InputError(f"That link is too long ({len(text):,} characters; at most {MAX_LINK_CHARS:,})")
        if text.startswith("{"):
            fields = json_object(text, "The shared JSON", '{"tab": "gan", ...}')
        else:
            fields = dict(parse_qsl(text.partition("?")[2] if "?" in text else text, keep_blank_values=True))
    tab = fields.pop("tab", None)
    if tab not in TABS:
        raise InputError(f"The link names no tab of this app (tab={tab!r}; one of: {', '.join(TABS)})")
    return tab, {key: ",".join(map(str, value)) if isinstance(value, list) else ("" if value is None else str(value))
                 for key, value in fields.items()}


def json_object(text: str, what: str, example: str) -> dict:
    """Pasted JSON that must be an object -> the dict; InputError naming ``what`` otherwise."""
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        raise InputError(f"That is not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise InputError(f"{what} must be an object like {example}")
    return value


def number_list(text: str, what: str, length: int) -> list[str]:
    """"0,1.5,-2" -> its items (still text, for the tab's own checks); exactly ``length`` of them."""
    items = [item.strip() for item in str(text).split(",")] if str(text).strip() else []
    if len(items) != length:
        raise InputError(f"{what} needs {length} comma-separated numbers, got {len(items)}")
    return items
