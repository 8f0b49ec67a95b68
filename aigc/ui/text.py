"""The Transformer tab: a streamed continuation coloured by how sure the model was of each token, written at the
speed one picks or one token a press, and two views inside the model at any token (click it): the candidates it
was drawn from, which follow the sampling sliders as they move, and its attention over the text before it.

Public API: ``/text_generate``, ``/next_token`` and ``/attention``; the other events are private to the page.
"""

import time
from dataclasses import dataclass

import gradio as gr

from aigc.studio import gpu, number, share
from aigc.studio import text as studio
from aigc.ui.common import (
    HEAVY,
    QUIET,
    USER_ERRORS,
    family_available,
    for_page,
    hub_model_field,
    linked_state,
    preferred,
    unchanged,
    user_errors,
    wire_share,
)

REFRESH_S = 0.05  # at most 20 updates a second, so that a fast model does not flood the browser
COLOURED_REFRESH_S = 1.0
MAX_SPEED = 20  # tokens a second, the most that the page is sent one by one (REFRESH_S)
# A paced text holds the one heavy worker (aigc.ui.HEAVY), and on ZeroGPU a GPU call of at most 60 s: past this,
# the rest comes as fast as the model writes.
MAX_PACED_S = 45
# The coloured text in the page: a click, or Enter (or Space) on the token Tab reached, selects a token as the select
# event's index; the arrows, Home and End move between tokens (one tab stop for the whole text, not thousands); the
# selected token stays outlined until another is chosen or the text is written again (which redraws it).
CONFIDENCE_JS = """
const tokens = () => [...element.querySelectorAll(".tokens .t")].filter((t) => t.textContent);
const focus = (token) => {
    element.querySelectorAll('.tokens .t[tabindex="0"]').forEach((t) => { t.tabIndex = -1; });
    token.tabIndex = 0;
    token.focus();
};
const choose = (token) => {
    element.querySelectorAll('.t[aria-current="true"]').forEach((t) => t.removeAttribute("aria-current"));
    token.setAttribute("aria-current", "true");
    trigger("select", {index: Number(token.dataset.i), value: token.textContent});
};
element.addEventListener("click", (event) => {
    const token = event.target.closest(".tokens .t");
    if (token) { focus(token); choose(token); }
});
element.addEventListener("keydown", (event) => {
    const token = event.target.closest(".tokens .t");
    if (!token) return;
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); choose(token); return; }
    const all = tokens(), at = all.indexOf(token);
    const to = {ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: all.length - 1}[event.key];
    if (to === undefined) return;
    event.preventDefault();
    focus(all[Math.max(0, Math.min(all.length - 1, to))]);
});
"""
UNSELECT_JS = """() => document.querySelectorAll('#text-confidence .t[aria-current="true"]')
    .forEach((t) => t.removeAttribute("aria-current"))"""


def render(continuation: studio.Continuation) -> tuple[str, str, str]:
    """-> (the continuation, the prompt and continuation coloured by probability, a line about it)."""
    facts = [f"seed **{continuation.seed}**", f"{len(continuation.tokens)} tokens"]
    if continuation.mean_probability is not None:
        facts.append(f"mean probability of the chosen token **{continuation.mean_probability:.2f}**")
    return (continuation.text, studio.confidence_html(continuation),
            "\n\n".join([" · ".join(facts), *continuation.notes]))


@gpu(duration=60)
@user_errors
def text_generate(prompt="", max_new_tokens=studio.DEFAULT_NEW_TOKENS, temperature=studio.DEFAULT_TEMPERATURE,
                  top_k=0, top_p=1.0, seed=None, model=studio.DEFAULT_MODEL, speed=0):
    """Stream (continuation so far, coloured text, summary, the continuation for the views); seed None = random;
    speed: tokens a second, at most 20 (0: as fast as the model writes).

    The coloured text is sent again whole at each update, so it follows about once a second (a page redrawing
    thousands of coloured tokens 20 times a second stops answering clicks, Stop included); the plain text
    follows every 50 ms.  Paced, each token waits its turn here, so Stop ends the text within one token.
    """
    speed = number(speed, "speed", 0, MAX_SPEED, 0)
    interval = 1 / speed if speed else 0.0
    continuation, last_shown, last_coloured, due = None, 0.0, 0.0, time.monotonic()
    paced_until = due + MAX_PACED_S
    for continuation in studio.stream(prompt, max_new_tokens, temperature, top_k, top_p, seed, model):
        if interval and due + interval > paced_until:
            interval = 0.0
            continuation.notes.append(f"Written at {speed:g} tokens a second for {MAX_PACED_S} s, then as fast as "
                                      "the model writes.")
        if interval:
            due += interval
            time.sleep(max(0.0, due - time.monotonic()))
        now = time.monotonic()
        if interval or now - last_shown >= REFRESH_S:  # paced: every token, at most MAX_SPEED a second
            last_shown = now
            text, coloured, summary = render(continuation)
            if now - last_coloured >= COLOURED_REFRESH_S:
                last_coloured = now
            else:
                coloured = gr.skip()
            yield text, coloured, summary, continuation.snapshot()  # what is shown: Stop may come before the next
    if continuation is not None:  # the last tokens, which the refresh limits may have held back
        yield *render(continuation), continuation


@gpu(duration=10)
@user_errors
def step(continuation, prompt, temperature, top_k, top_p, seed, model):
    """The Next token button: the text one token longer -> (text, coloured, summary, continuation, its last item)."""
    continuation = studio.step(continuation, prompt, temperature, top_k, top_p, seed, model)
    return *render(continuation), continuation, len(continuation.prompt_ids) + len(continuation.tokens) - 1


@gpu(duration=10)
@user_errors
def next_token(prompt: str = "", temperature: float = studio.DEFAULT_TEMPERATURE, top_k: int = 0, top_p: float = 1.0,
               seed: int | None = None, model: str = studio.DEFAULT_MODEL) -> dict:
    """One sampling step after the prompt: the token drawn (the first /text_generate writes with the same seed)
    and the 10 likeliest candidates, with their probabilities p (temperature 1) and p_filtered (after the
    settings)."""
    return studio.next_token(prompt, temperature, top_k, top_p, seed, model)


@gpu(duration=10)
@user_errors
def attention(text: str = "ROMEO:\n", index: int = -1, layer: int = 1, model: str = studio.DEFAULT_MODEL) -> dict:
    """The attention of token ``index`` (from 0; -1: the last) of the text's window over the earlier tokens, one
    row per head of ``layer`` (from 1)."""
    return studio.attention(text, index, layer, model).as_json()


@user_errors
def share_link(continuation):
    """The query string of a link that writes this continuation again (the page turns it into an address)."""
    return share.query_string("text", studio.shared_state(continuation))


LINKED = ("prompt", "max_new_tokens", "temperature", "top_k", "top_p", "seed", "model")  # a share link sets these
WRITTEN = ("output", "confidence", "summary", "continuation")  # and what text_generate writes


def open_link(request: gr.Request):
    """On load with a share link: its prompt and settings in the controls, and the same text streamed again."""
    state = linked_state(request, "text", studio.state_from_link)
    if state is None:
        yield unchanged([*LINKED, *WRITTEN])
        return
    controls = [state[name] for name in LINKED]
    for update in text_generate(**state):
        yield [*controls, *update]


def shown(continuation, prompt, model) -> studio.Continuation:
    """The continuation the views look into: the one written, or, for another prompt or model, the prompt alone."""
    if isinstance(continuation, studio.Continuation) and (continuation.given_prompt, continuation.model) == (
            str(prompt or ""), model):
        return continuation
    return studio.begin(prompt, model=model)


@gpu(duration=10)
def candidates_view(continuation, selected, prompt, temperature, top_k, top_p, model):
    """The candidates of the clicked token (a prompt token: the first written one; none: the next token), under
    the sliders' settings as they stand; a warning, and the chart left as it was, when there is nothing to show."""
    try:
        continuation = shown(continuation, prompt, model)
        position = None if selected is None else max(selected - len(continuation.prompt_ids), 0)
        return studio.candidates_html(studio.candidates(continuation, position, (temperature, top_k, top_p)))
    except USER_ERRORS as e:
        gr.Warning(for_page(e))
        return gr.skip()


@gpu(duration=10)
def attention_view(continuation, selected, prompt, model, layer, head):
    """The clicked token's attention (none clicked: the last token's), over the text, every head of the layer."""
    try:
        continuation = shown(continuation, prompt, model)
        return studio.attention_html(studio.token_attention(continuation, selected, layer), head)
    except USER_ERRORS as e:
        gr.Warning(for_page(e))
        return gr.skip()


# In the page: the clicked token of the coloured text stays outlined (until another click or a new text).
def clicked(selected: gr.SelectData) -> int:
    """A token selected in the coloured text (a click, or Enter) -> its index in prompt + continuation."""
    return selected.index


def introduction(model: str) -> str:
    return (
        f"{studio.describe(model)}, each drawn from the distribution it predicts. **Temperature** sharpens (low) "
        "or flattens (high) it, 0 always takes the likeliest; **top-k** and **top-p** keep only the likeliest "
        "tokens (0 and 1 switch them off). **Next token** writes one token a press; **Speed** slows the writing "
        "down to watch it. Click any token of the coloured text to see what the model chose it from and what it "
        "attended to."
    )


def layers_and_heads(model: str) -> tuple[int, int]:
    try:
        config = studio.get_model(model).config
    except USER_ERRORS:  # the picker reports it; the sliders just need a range
        return 1, 1
    return config.n_layer, config.n_head


@user_errors
def choose_model(model, progress=gr.Progress(track_tqdm=True)):
    """Load the picked model (GPT-2 downloads on first use, with progress) -> (picker, intro, layer, head).

    If it cannot be loaded (no Hub here, say), a warning says why and the picker goes back to the bundled model.
    """
    progress(0, desc=f"Loading {model}")
    try:
        studio.get_model(model)
    except USER_ERRORS as e:
        gr.Warning(for_page(f"{e}. Back to {studio.DEFAULT_MODEL}."))
        model = studio.DEFAULT_MODEL
    n_layer, n_head = layers_and_heads(model)
    return (model, introduction(model), gr.Slider(maximum=max(n_layer, 2), value=1, interactive=n_layer > 1),
            gr.Slider(maximum=max(n_head, 2), value=1, interactive=n_head > 1))


@dataclass
class TextTab:
    """The tab's components: what one writes with, what is written, and the two views inside the model."""

    intro: gr.Markdown
    prompt: gr.Textbox
    generate: gr.Button
    step: gr.Button
    stop: gr.Button
    share: gr.Button
    speed: gr.Slider
    link: gr.Textbox
    max_new_tokens: gr.Slider
    temperature: gr.Slider
    top_k: gr.Slider
    top_p: gr.Slider
    seed: gr.Textbox
    model: gr.Dropdown
    output: gr.Textbox
    summary: gr.Markdown
    confidence: gr.HTML
    candidates: gr.HTML
    layer: gr.Slider
    head: gr.Slider
    attention: gr.HTML
    continuation: gr.State  # the text written, a studio.Continuation
    selected: gr.State  # the selected token's index in prompt + continuation (None: the last)

    def named(self, names) -> list:
        return [getattr(self, name) for name in names]


def writing_controls(models: list[str], model_name: str) -> dict:
    """The prompt, the buttons and the sampling settings."""
    with gr.Row():
        with gr.Column(scale=3):
            c = dict(prompt=gr.Textbox("ROMEO:\n", label="Prompt", lines=4, max_length=studio.MAX_PROMPT_CHARS))
            with gr.Row():
                c["generate"] = gr.Button("Generate", variant="primary")
                c["step"] = gr.Button("Next token", elem_id="text-step")
                c["stop"] = gr.Button("Stop", variant="stop")
                c["share"] = gr.Button("🔗 Share")
            c["speed"] = gr.Slider(0, MAX_SPEED, value=0, step=1, label="Speed (tokens a second)",
                                   info="0: as fast as the model writes", elem_id="text-speed")
            c["link"] = gr.Textbox(label="Link that writes this text again",
                                   placeholder="generate, then press 🔗 Share", buttons=["copy"], elem_id="text-link")
        with gr.Column(scale=2):
            c["max_new_tokens"] = gr.Slider(1, studio.MAX_NEW_TOKENS, value=studio.DEFAULT_NEW_TOKENS, step=1,
                                            label="Tokens to write (max_new_tokens)",
                                            info="a token is a character for gpt-shakespeare, a word or part of "
                                                 "one for GPT-2")
            c["temperature"] = gr.Slider(0, studio.MAX_TEMPERATURE, value=studio.DEFAULT_TEMPERATURE, step=0.05,
                                         label="Temperature", elem_id="text-temperature")
            with gr.Row():
                c["top_k"] = gr.Slider(0, 100, value=0, step=1, label="Top-k", elem_id="text-top-k")
                c["top_p"] = gr.Slider(studio.MIN_TOP_P, 1, value=1, step=0.01, label="Top-p", elem_id="text-top-p")
            with gr.Row():
                # a Textbox: Gradio's Number shows and sends 0 when it has no value, and empty must mean random
                c["seed"] = gr.Textbox("", label="Seed", placeholder="random",
                                       info="empty: a new random seed each time")
                c["model"] = gr.Dropdown(models, value=model_name, label="Model", elem_id="text-model",
                                         info=f"{studio.GPT2} downloads from the Hub on first use (500 MB)")
            hub_model_field(c["model"], "gpt")
    return c


def inside_views(n_layer: int, n_head: int) -> dict:
    """The written text, and the candidates and attention of the selected token."""
    v = dict(output=gr.Textbox(label="Continuation", lines=10, interactive=False, buttons=["copy"],
                               elem_id="text-output"), summary=gr.Markdown())
    v["confidence"] = gr.HTML(studio.confidence_html(None), css_template=studio.confidence_css(),
                              js_on_load=CONFIDENCE_JS, elem_id="text-confidence")
    gr.Markdown(
        "**Inside the model.** Left: the 10 likeliest tokens at the token you select (before that, the next one), "
        "as the model scored them and as the settings leave them to draw from; move the sliders to see what they "
        "change. Right: what the selected token attends to in one layer, tinted over the text before it."
    )
    with gr.Row():
        v["candidates"] = gr.HTML(elem_id="text-candidates")
        with gr.Column():
            with gr.Row():
                # a slider's maximum must exceed its minimum: with one layer (or head) it is fixed at 1
                v["layer"] = gr.Slider(1, max(n_layer, 2), value=1, step=1, label="Layer", interactive=n_layer > 1,
                                       elem_id="text-layer")
                v["head"] = gr.Slider(1, max(n_head, 2), value=1, step=1, label="Head (shown large)",
                                      interactive=n_head > 1, elem_id="text-head")
            v["attention"] = gr.HTML(elem_id="text-attention")
    return v


def layout(models: list[str], model_name: str, n_layer: int, n_head: int) -> TextTab:
    intro = gr.Markdown(introduction(model_name))
    c = writing_controls(models, model_name)
    v = inside_views(n_layer, n_head)
    return TextTab(intro=intro, **c, **v, continuation=gr.State(None), selected=gr.State(None))


def wire(demo: gr.Blocks, ui: TextTab, available: bool) -> None:
    """When this changes, that follows.  The sliders follow a drag, the arrow keys and a typed value alike (input)."""
    written = ui.named(WRITTEN)
    candidates = dict(fn=candidates_view, outputs=ui.candidates, **QUIET, inputs=[
        ui.continuation, ui.selected, ui.prompt, ui.temperature, ui.top_k, ui.top_p, ui.model])
    attention_ = dict(fn=attention_view, outputs=ui.attention, **QUIET, inputs=[
        ui.continuation, ui.selected, ui.prompt, ui.model, ui.layer, ui.head])

    def look(event):
        """After ``event``: the views of the selected token."""
        event.success(**candidates)
        event.success(**attention_)

    # Generate -> the text, streamed (the public /text_generate); then the views of its last token
    generating = ui.generate.click(
        text_generate, inputs=ui.named(LINKED) + [ui.speed], outputs=written, api_name="text_generate",
        preprocess=False, show_progress_on=ui.output, **HEAVY,  # one cheap target: see NO_PROGRESS
    )
    look(generating.success(lambda: None, None, ui.selected, **QUIET))
    gr.on([ui.generate.click, ui.step.click], None, js=UNSELECT_JS, **QUIET)  # a new text: no token selected
    # Stop -> the views of what was written
    look(ui.stop.click(lambda: None, None, ui.selected, cancels=[generating], **QUIET))
    # Next token -> the text one token longer, and the views of that token
    look(ui.step.click(step, [ui.continuation, ui.prompt, ui.temperature, ui.top_k, ui.top_p, ui.seed, ui.model],
                       written + [ui.selected], preprocess=False, **QUIET, **HEAVY))
    # a token selected (a click, or Enter) -> its views
    look(ui.confidence.select(clicked, None, ui.selected, **QUIET))
    # the sampling settings -> the candidates; the layer and head -> the attention (and both once the page is open)
    opened = [demo.load] if available else []  # without a GPT, the tab's first line says so (no warning)
    gr.on([ui.temperature.input, ui.top_k.input, ui.top_p.input, *opened], **candidates, trigger_mode="always_last")
    gr.on([ui.layer.input, ui.head.input, *opened], **attention_, trigger_mode="always_last")
    # another model -> its introduction, its layers and heads, and the views
    look(ui.model.change(choose_model, ui.model, [ui.model, ui.intro, ui.layer, ui.head], api_visibility="private",
                         show_progress_on=ui.model, concurrency_limit=1, concurrency_id="hub"))
    demo.load(open_link, None, ui.named(LINKED) + written, **QUIET, **HEAVY)
    wire_share(ui.share, share_link, [ui.continuation], ui.link)
    api_only(demo, next_token)
    api_only(demo, attention)


def tab(demo: gr.Blocks) -> None:
    models = studio.gpt_models()
    model_name = preferred(models, studio.DEFAULT_MODEL)
    with gr.Tab("Transformer", id="text"):
        available = family_available([name for name in models if name not in studio.HUB_MODELS], "GPTs",
                                     f"{studio.GPT2} can still be picked below (it downloads from the Hub)")
        n_layer, n_head = layers_and_heads(model_name) if available else (1, 1)  # nothing downloads here
        ui = layout(models, model_name, n_layer, n_head)
        wire(demo, ui, available)  # in the tab: its gr.api endpoints are blocks, and the Tabs around it hold tabs only


def api_only(demo: gr.Blocks, fn) -> None:
    """An endpoint for API clients alone, named after ``fn`` (gr.api: no component; the types are the signature's),
    without the progress target gr.api gives its output (see NO_PROGRESS)."""
    dependency = gr.api(fn, api_name=fn.__name__)
    demo.fns[dependency["id"]].show_progress_on = []
