"""The Transformer tab: a streamed continuation coloured by how sure the model was of each token, and two views
inside the model: the candidates at any token (click it) and the attention of one layer and head over the prompt.

Only ``/text_generate`` is public API; the other events are private to the page.
"""

import time

import gradio as gr

from aigc.studio import gpu, share
from aigc.studio import text as studio
from aigc.ui import (HEAVY, NO_PROGRESS, USER_ERRORS, family_available, for_page, hub_model_field, linked_state,
                     preferred, user_errors, wire_share)

REFRESH_S = 0.05  # at most 20 updates a second, so that a fast model does not flood the browser
COLOURED_REFRESH_S = 1.0
BANDS = [  # (lowest probability, label, colour)
    (0.9, "sure (≥ 90%)", "#16a34a"),
    (0.5, "likely (50–90%)", "#a3e635"),
    (0.2, "unsure (20–50%)", "#fbbf24"),
    (0.0, "a guess (< 20%)", "#f87171"),
]


def band(probability: float) -> str:
    return next(label for low, label, _ in BANDS if probability >= low)


def render(continuation: studio.Continuation) -> tuple[str, list, str]:
    """-> (the continuation, the prompt and continuation coloured by probability, a line about it).

    One coloured item per token, after the prompt's, so that a click's index finds its token.
    """
    highlighted = [(continuation.prompt, None)] + [
        (piece, band(p)) for piece, p in zip(continuation.pieces, continuation.probabilities)
    ]
    facts = [f"seed **{continuation.seed}**", f"{len(continuation.tokens)} tokens"]
    if continuation.mean_probability is not None:
        facts.append(f"mean probability of the chosen token **{continuation.mean_probability:.2f}**")
    return continuation.text, highlighted, "\n\n".join([" · ".join(facts), *continuation.notes])


@gpu(duration=60)
@user_errors
def text_generate(prompt="", max_new_tokens=studio.DEFAULT_NEW_TOKENS, temperature=studio.DEFAULT_TEMPERATURE,
                  top_k=0, top_p=1.0, seed=None, model=studio.DEFAULT_MODEL):
    """Stream (continuation so far, coloured text, summary, the continuation for the views); seed None = random.

    The coloured text is sent again whole at each update, so it follows about once a second (a page redrawing
    thousands of coloured tokens 20 times a second stops answering clicks, Stop included); the plain text
    follows every 50 ms.
    """
    continuation, last_shown, last_coloured = None, 0.0, 0.0
    for continuation in studio.stream(prompt, max_new_tokens, temperature, top_k, top_p, seed, model):
        now = time.monotonic()
        if now - last_shown >= REFRESH_S:
            last_shown = now
            text, coloured, summary = render(continuation)
            if now - last_coloured >= COLOURED_REFRESH_S:
                last_coloured = now
            else:
                coloured = gr.skip()
            yield text, coloured, summary, continuation
    if continuation is not None:  # the last tokens, which the refresh limits may have held back
        yield *render(continuation), continuation


@user_errors
def share_link(continuation):
    """The query string of a link that writes this continuation again (the page turns it into an address)."""
    return share.query_string("text", studio.shared_state(continuation))


LINKED = ["prompt", "max_new_tokens", "temperature", "top_k", "top_p", "seed", "model"]


def open_link(request: gr.Request):
    """On load with a share link: its prompt and settings in the controls, and the same text streamed again."""
    state = linked_state(request, "text", studio.state_from_link)
    if state is None:
        yield [gr.skip()] * (len(LINKED) + 4)
        return
    controls = [state[name] for name in LINKED]
    for shown in text_generate(**state):
        yield [*controls, *shown]


@gpu(duration=10)
def candidates_view(continuation, position=None):
    """The candidates chart; a warning, and the chart left as it was, when there is nothing to show."""
    try:
        return studio.candidates_figure(studio.candidates(continuation, position))
    except USER_ERRORS as e:
        gr.Warning(for_page(e))
        return gr.skip()


def clicked_candidates(continuation, selected: gr.SelectData):
    """A click on the coloured text: item 0 is the prompt (-> the first token's candidates), item i token i - 1."""
    return candidates_view(continuation, max(selected.index - 1, 0))


@gpu(duration=10)
def attention_view(prompt, layer, head, model):
    try:
        return studio.attention_figure(studio.attention(prompt, layer, head, model))
    except USER_ERRORS as e:
        gr.Warning(for_page(e))
        return gr.skip()


def introduction(model: str) -> str:
    return (
        f"{studio.describe(model)}, each drawn from the distribution it predicts. **Temperature** sharpens (low) "
        "or flattens (high) it, 0 always takes the likeliest; **top-k** and **top-p** keep only the likeliest "
        "tokens (0 and 1 switch them off). Click any token of the coloured text to see what the model chose "
        "it from."
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


def tab(demo: gr.Blocks) -> None:
    models = studio.gpt_models()
    model_name = preferred(models, studio.DEFAULT_MODEL)
    with gr.Tab("Transformer", id="text"):
        available = family_available([name for name in models if name not in studio.HUB_MODELS], "GPTs",
                                     f"{studio.GPT2} can still be picked below (it downloads from the Hub)")
        n_layer, n_head = layers_and_heads(model_name) if available else (1, 1)  # nothing downloads here
        intro = gr.Markdown(introduction(model_name))
        with gr.Row():
            with gr.Column(scale=3):
                prompt = gr.Textbox("ROMEO:\n", label="Prompt", lines=4, max_length=studio.MAX_PROMPT_CHARS)
                with gr.Row():
                    generate = gr.Button("Generate", variant="primary")
                    stop = gr.Button("Stop", variant="stop")
                    share_button = gr.Button("🔗 Share")
                link = gr.Textbox(label="Link that writes this text again",
                                  placeholder="generate, then press 🔗 Share", buttons=["copy"], elem_id="text-link")
            with gr.Column(scale=2):
                max_new_tokens = gr.Slider(1, studio.MAX_NEW_TOKENS, value=studio.DEFAULT_NEW_TOKENS, step=1,
                                           label="Tokens to write (max_new_tokens)",
                                           info="a token is a character for gpt-shakespeare, a word or part of one "
                                                "for GPT-2")
                temperature = gr.Slider(0, studio.MAX_TEMPERATURE, value=studio.DEFAULT_TEMPERATURE, step=0.05,
                                        label="Temperature")
                with gr.Row():
                    top_k = gr.Slider(0, 100, value=0, step=1, label="Top-k")
                    top_p = gr.Slider(studio.MIN_TOP_P, 1, value=1, step=0.01, label="Top-p")
                with gr.Row():
                    # a Textbox: Gradio's Number shows and sends 0 when it has no value, and empty must mean random
                    seed = gr.Textbox("", label="Seed", placeholder="random", info="empty: a new random seed each time")
                    model = gr.Dropdown(models, value=model_name, label="Model", elem_id="text-model",
                                        info=f"{studio.GPT2} downloads from the Hub on first use (500 MB)")
                hub_model_field(model, "gpt")
        output = gr.Textbox(label="Continuation", lines=10, interactive=False, buttons=["copy"], elem_id="text-output")
        summary = gr.Markdown()
        confidence = gr.HighlightedText(
            label="How sure the model was of each token (click one to see its candidates)", show_legend=True,
            show_inline_category=False, color_map={label: colour for _, label, colour in BANDS},
            elem_id="text-confidence",
        )
        continuation = gr.State(None)
        gr.Markdown(
            "**Inside the model.** Left: the 10 likeliest tokens at the point you click (after the text, once a "
            "continuation is written), as the model scored them and as the settings left them to draw from. "
            "Right: how much each token of the prompt attends to each earlier one, in one layer and head."
        )
        with gr.Row():
            # no labels: they would sit over the figures' own titles
            candidates_plot = gr.Plot(show_label=False, format="png", elem_id="text-candidates")
            with gr.Column():
                attention_plot = gr.Plot(show_label=False, format="png", elem_id="text-attention")
                with gr.Row():
                    # a slider's maximum must exceed its minimum: with one layer (or head) it is fixed at 1
                    layer = gr.Slider(1, max(n_layer, 2), value=1, step=1, label="Layer", interactive=n_layer > 1)
                    head = gr.Slider(1, max(n_head, 2), value=1, step=1, label="Head", interactive=n_head > 1)

    event = generate.click(
        text_generate, inputs=[prompt, max_new_tokens, temperature, top_k, top_p, seed, model],
        outputs=[output, confidence, summary, continuation], api_name="text_generate", preprocess=False,
        show_progress_on=output, **HEAVY,  # one cheap target: see NO_PROGRESS
    )
    event.success(candidates_view, continuation, candidates_plot, api_visibility="private", **NO_PROGRESS)
    event.success(attention_view, [prompt, layer, head, model], attention_plot, api_visibility="private",
                  **NO_PROGRESS)
    stop.click(None, cancels=[event], api_visibility="private")
    controls = [prompt, max_new_tokens, temperature, top_k, top_p, seed, model]
    demo.load(open_link, None, controls + [output, confidence, summary, continuation], api_visibility="private",
              **NO_PROGRESS, **HEAVY)
    wire_share(share_button, share_link, [continuation], link)
    confidence.select(clicked_candidates, continuation, candidates_plot, api_visibility="private",
                      **NO_PROGRESS)
    page_load = [demo.load] if available else []  # without a GPT, the tab's first line says so (no warning)
    gr.on([layer.release, head.release] + page_load, attention_view, [prompt, layer, head, model], attention_plot,
          api_visibility="private", **NO_PROGRESS, trigger_mode="always_last")
    model.change(choose_model, model, [model, intro, layer, head], api_visibility="private", show_progress_on=model,
                 concurrency_limit=1, concurrency_id="hub").then(
        attention_view, [prompt, layer, head, model], attention_plot, api_visibility="private",
        **NO_PROGRESS)
