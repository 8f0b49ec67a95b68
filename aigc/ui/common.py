"""What every tab shares: how errors reach the page, share links, model pickers and the options of events.

The events that make the public API run with ``preprocess=False``: the studio
functions check and clamp the raw values themselves, so that the page and API
clients meet the same limits and the same readable errors.  (Gradio's own
preprocessing would refuse an out-of-range slider value, and fail on a file
that is not a picture with a message the person never sees.)
"""

import functools
import html
import inspect

import gradio as gr

from aigc.hub import ModelLoadError
from aigc.studio import InputError, share
from aigc.studio.models import is_hub_name, load_hub_model, registry
from aigc.ui.fairness import HEAVY_ID

USER_ERRORS = (InputError, ModelLoadError)
# For events that show no progress: no progress targets either.  On every status change of any event, Gradio 6's
# page refreshes the loading status of every component that was ever a progress target (and of every input of a
# finished event), snapshotting its value; page-load events alone made 62 such components here.  Events that
# show progress show it on one cheap component.
NO_PROGRESS = dict(show_progress="hidden", show_progress_on=[])
# The options of the events that only keep the page in step (not part of the public API, no progress shown).
QUIET = dict(api_visibility="private", **NO_PROGRESS)
# Work that holds a core for seconds (a long generation, a GIF, live metrics) waits in one queue, whoever asks
# and whichever tab: one worker, so that the other of the two cores stays with the sliders and the rest.  How much
# of that queue one client may hold is capped (aigc.ui.fairness).
HEAVY = dict(concurrency_id=HEAVY_ID, concurrency_limit=1)
MAX_MESSAGE_CHARS = 1_000


def for_page(message) -> str:
    """A message (or an exception's) as a toast may show it: cut, then HTML-escaped.

    Gradio renders gr.Error, gr.Warning and gr.Info messages as HTML, and messages
    echo what a visitor sent (a share link's fields, say): unescaped, a link could
    put an image, a form or a link of its choosing into someone else's page.
    Every message the tabs show goes through here.
    """
    text = str(message)
    if len(text) > MAX_MESSAGE_CHARS:
        text = f"{text[:MAX_MESSAGE_CHARS]}…"
    return html.escape(text, quote=False)


def user_errors(fn):
    """Show InputError and ModelLoadError to the person as a gr.Error (Gradio hides other exceptions' messages),
    escaped (:func:`for_page`).

    Works for plain and for generator (streaming) handlers, and keeps the
    handler's signature, whose parameter names are the API's.  The message is
    the whole story, so the studio traceback is not chained into the log.
    """
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def streaming(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except USER_ERRORS as e:
                raise gr.Error(for_page(e)) from None

        return streaming

    @functools.wraps(fn)
    def handler(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except USER_ERRORS as e:
            raise gr.Error(for_page(e)) from None

    return handler


def unchanged(outputs: list) -> list:
    """What a handler returns to leave every one of ``outputs`` as it is: one ``gr.skip()`` for each."""
    return [gr.skip() for _ in outputs]


def preferred(choices: list[str], name: str) -> str | None:
    """``name`` if it is among ``choices`` and loaded, else the first loaded choice; with none loaded, ``name`` if it
    is a choice, else the first choice (None if there are none)."""
    for pool in ([choice for choice in choices if choice in registry().models], choices):
        if pool:
            return name if name in pool else pool[0]
    return None


def family_available(models: list[str], family: str, instead: str) -> bool:
    """Whether any of a tab's bundled ``models`` is loaded; if none is, one plain line in the tab says so.

    Call it inside the tab.  The banner at the top says why each one is missing; the tab serves what it can.
    """
    if any(name in registry().models for name in models):
        return True
    gr.Markdown(f"None of the bundled {family} could be loaded here; {instead}.", elem_classes="family-absent")
    return False


def random_seed_js(max_seed: int) -> str:
    """A browser-side handler for a 🎲 button: a new seed without a round trip to the server."""
    return f"() => Math.floor(Math.random() * {max_seed + 1})"


# A share link is the page's own address with the state as its query string (the server cannot know the address).
SHARE_URL_JS = "(query) => query && query.startsWith('?') ? location.origin + location.pathname + query : query"


def linked_fields(request: gr.Request | None, tab: str) -> dict[str, str] | None:
    """The fields of a share link for ``tab`` in the page's address; None if it has none for this tab."""
    params = dict(request.query_params) if request is not None else {}
    if params.get("tab") != tab:
        return None
    return share.read(params)[1]


def linked_state(request: gr.Request | None, tab: str, read):
    """``read(fields)`` of the share link for ``tab`` in the page's address; None if there is none.

    A link that cannot be used is a warning, not an error: the page still opens, with its defaults.
    """
    try:
        fields = linked_fields(request, tab)
        return None if fields is None else read(fields)
    except USER_ERRORS as e:
        gr.Warning(for_page(f"The link could not be opened: {e}"))
        return None


def wire_share(button: gr.Button, query_string, inputs: list, link: gr.Textbox) -> None:
    """A Share button: the server writes the query string of the state, the page makes it a whole address."""
    button.click(query_string, inputs, link, preprocess=False, api_visibility="private",
                 **NO_PROGRESS).success(None, link, link, js=SHARE_URL_JS, api_visibility="private")


def picker(choices: list[str], name: str) -> gr.Dropdown:
    """A model picker showing ``name``, which joins its choices if it is a Hub model (opened from a link)."""
    return gr.Dropdown(choices=choices + ([name] if is_hub_name(name) and name not in choices else []), value=name)


def uploaded_path(payload, what: str) -> str | None:
    """The server-side path of an uploaded picture (events with pictures skip Gradio's preprocessing)."""
    if payload is None:
        return None
    if not isinstance(payload, dict) or not payload.get("path"):
        raise InputError(f"{what} is not an uploaded file")
    return payload["path"]


def hub_model_field(model: gr.Dropdown, *kinds: str) -> None:
    """Under a tab's model picker: load a model from the Hub by repo id; it joins this person's picker."""
    bundled = [choice[1] if isinstance(choice, tuple) else choice for choice in model.choices]
    with gr.Accordion("Load a model from the Hub", open=False):
        with gr.Row(equal_height=True):
            repo_id = gr.Textbox(label="Hub repo id", placeholder="owner/name", scale=3, min_width=160)
            revision = gr.Textbox(label="Revision", placeholder="main", scale=1, min_width=80)
            load_button = gr.Button("Load", scale=0, min_width=80)
    loaded = gr.State([])  # this session's Hub models, most recent last

    def load_with_progress(repo, rev, names, progress=gr.Progress(track_tqdm=True)):
        progress(0, desc=f"Loading {repo} from the Hub")  # hf_hub_download's own bars then show the download
        return add_to_picker(repo, rev, names, bundled, kinds)

    gr.on([load_button.click, repo_id.submit], load_with_progress, [repo_id, revision, loaded], [model, loaded],
          api_visibility="private", concurrency_limit=1, concurrency_id="hub")


@user_errors
def add_to_picker(repo_id, revision, loaded: list[str], bundled: list[str], kinds: tuple[str, ...]):
    """Load a Hub model for a tab of ``kinds`` -> (the picker with it chosen, this session's Hub models)."""
    name = load_hub_model(repo_id, revision, *kinds)
    loaded = [n for n in loaded if n != name] + [name]
    return gr.Dropdown(choices=bundled + loaded, value=name), loaded
