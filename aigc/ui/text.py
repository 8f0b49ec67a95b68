"""The Transformer tab: a streamed continuation, coloured by how sure the model was of each character."""

import time

import gradio as gr

from aigc.studio import text as studio
from aigc.ui import preferred, user_errors

REFRESH_S = 0.05  # at most 20 updates a second, so that a fast model does not flood the browser
BANDS = [  # (lowest probability, label, colour)
    (0.9, "sure (≥ 90%)", "#16a34a"),
    (0.5, "likely (50–90%)", "#a3e635"),
    (0.2, "unsure (20–50%)", "#fbbf24"),
    (0.0, "a guess (< 20%)", "#f87171"),
]


def band(probability: float) -> str:
    return next(label for low, label, _ in BANDS if probability >= low)


def render(continuation: studio.Continuation) -> tuple[str, list, str]:
    """-> (the continuation, the prompt and continuation coloured by probability, a line about it)."""
    highlighted = [(continuation.prompt, None)] + [
        (char, band(p)) for char, p in zip(continuation.chars, continuation.probabilities)
    ]
    facts = [f"seed **{continuation.seed}**", f"{len(continuation.chars)} characters"]
    if continuation.mean_probability is not None:
        facts.append(f"mean probability of the chosen character **{continuation.mean_probability:.2f}**")
    return continuation.text, highlighted, "\n\n".join([" · ".join(facts), *continuation.notes])


@user_errors
def text_generate(prompt="", max_new_tokens=studio.DEFAULT_NEW_TOKENS, temperature=studio.DEFAULT_TEMPERATURE,
                  top_k=0, top_p=1.0, seed=None, model=studio.DEFAULT_MODEL):
    """Stream (continuation so far, coloured text, summary); max_new_tokens 1-2000, seed None = random."""
    continuation, last_shown = None, 0.0
    for continuation in studio.stream(prompt, max_new_tokens, temperature, top_k, top_p, seed, model):
        if time.monotonic() - last_shown >= REFRESH_S:
            last_shown = time.monotonic()
            yield render(continuation)
    if continuation is not None:  # the last characters, which the refresh limit may have held back
        yield render(continuation)


def tab(demo: gr.Blocks) -> None:
    models = studio.gpt_models()
    with gr.Tab("Transformer"):
        gr.Markdown(
            "A small GPT trained on Shakespeare's plays writes one character at a time, each drawn from the "
            "distribution it predicts. **Temperature** sharpens (low) or flattens (high) it, 0 always takes the "
            "likeliest; **top-k** and **top-p** keep only the likeliest characters (0 and 1 switch them off)."
        )
        with gr.Row():
            with gr.Column(scale=3):
                prompt = gr.Textbox("ROMEO:\n", label="Prompt", lines=4, max_length=studio.MAX_PROMPT_CHARS)
                with gr.Row():
                    generate = gr.Button("Generate", variant="primary")
                    stop = gr.Button("Stop", variant="stop")
            with gr.Column(scale=2):
                max_new_tokens = gr.Slider(1, studio.MAX_NEW_TOKENS, value=studio.DEFAULT_NEW_TOKENS, step=1,
                                           label="Characters to write (max_new_tokens)")
                temperature = gr.Slider(0, studio.MAX_TEMPERATURE, value=studio.DEFAULT_TEMPERATURE, step=0.05,
                                        label="Temperature")
                with gr.Row():
                    top_k = gr.Slider(0, 100, value=0, step=1, label="Top-k")
                    top_p = gr.Slider(studio.MIN_TOP_P, 1, value=1, step=0.01, label="Top-p")
                with gr.Row():
                    # a Textbox: Gradio's Number shows and sends 0 when it has no value, and empty must mean random
                    seed = gr.Textbox("", label="Seed", placeholder="random", info="empty: a new random seed each time")
                    model = gr.Dropdown(models, value=preferred(models, studio.DEFAULT_MODEL), label="Model")
        output = gr.Textbox(label="Continuation", lines=10, interactive=False, buttons=["copy"], elem_id="text-output")
        summary = gr.Markdown()
        confidence = gr.HighlightedText(
            label="How sure the model was of each character", show_legend=True, show_inline_category=False,
            combine_adjacent=True, color_map={label: colour for _, label, colour in BANDS}, elem_id="text-confidence",
        )

    event = generate.click(
        text_generate, inputs=[prompt, max_new_tokens, temperature, top_k, top_p, seed, model],
        outputs=[output, confidence, summary], api_name="text_generate", preprocess=False,
        concurrency_limit=2, concurrency_id="text",
    )
    stop.click(None, cancels=[event], api_visibility="private")
