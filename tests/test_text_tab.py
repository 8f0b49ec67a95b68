"""The Transformer tab without a browser: candidates, attention, bad input, BPE models and the model picker."""

import base64
import io
import math
import os

import gradio as gr
import pytest
import torch
from matplotlib.figure import Figure
from test_gpt2 import save_gpt2, train_tokenizer

import aigc
from aigc.hub import ModelLoadError
from aigc.models.gpt import context_start
from aigc.studio import InputError
from aigc.studio import text as studio
from aigc.studio.models import registry
from aigc.ui import text as ui

GPT = studio.DEFAULT_MODEL


def last(stream):
    item = None
    for item in stream:
        pass
    return item


def png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def shakespeare():
    return registry().get(GPT, "gpt")


LONG = 400  # characters: past the context (256), so the window restarts on the way


@pytest.fixture(scope="module")
def long_continuation():
    return last(studio.stream("ROMEO:\n", LONG, 0.9, 20, 0.95, seed=4, model=GPT))


# --- the distributions ------------------------------------------------------------------------------

def test_after_sums_to_one_over_what_it_keeps(shakespeare):
    context = shakespeare.tokenizer.encode("ROMEO:\nWhat say")
    before, _ = studio.distributions(shakespeare, context)
    ranked = before.argsort(descending=True)
    for temperature, top_k, top_p in [(1.0, None, None), (0.7, 5, None), (1.3, None, 0.5), (0.9, 8, 0.9)]:
        _, after = studio.distributions(shakespeare, context, temperature, top_k, top_p)
        kept = (after > 0).nonzero().flatten()
        assert math.isclose(float(after.sum()), 1.0, rel_tol=1e-5)
        assert set(kept.tolist()) == set(ranked[: len(kept)].tolist()), "what is kept is the likeliest"
        if top_k:
            assert len(kept) <= top_k
    assert torch.allclose(studio.distributions(shakespeare, context, 1.0)[1], before)


def test_top_k_one_and_temperature_zero_are_the_argmax(shakespeare):
    context = shakespeare.tokenizer.encode("To be, or not to be")
    before, greedy = studio.distributions(shakespeare, context, temperature=0.0)
    assert greedy.tolist() == torch.nn.functional.one_hot(before.argmax(), before.numel()).float().tolist()
    assert torch.equal(studio.distributions(shakespeare, context, 1.7, top_k=1)[1], greedy)


def test_candidates_are_what_each_token_was_drawn_from(long_continuation, shakespeare):
    c = long_continuation
    assert len(c.tokens) == LONG
    block = shakespeare.config.block_size
    restarts = [n for n in range(1, LONG) if context_start(7, n + 1, block) != context_start(7, n, block)]
    assert restarts, "the continuation must outgrow the context"
    for position in [0, 5, *(n + step for n in restarts for step in (-1, 0, 1)), LONG - 1]:
        candidates = studio.candidates(c, position)
        assert candidates.drawn is not None, position
        assert candidates.after[candidates.drawn] == pytest.approx(c.probabilities[position], rel=1e-4)
        assert candidates.labels[candidates.drawn] == studio.token_label(shakespeare, c.tokens[position])
        ten = candidates.before[: studio.CANDIDATES]  # the likeliest first; then the drawn token if not among them
        assert ten == sorted(ten, reverse=True) and len(candidates.labels) in (studio.CANDIDATES, studio.CANDIDATES + 1)
    following = studio.candidates(c)
    assert following.drawn is None and len(following.labels) == studio.CANDIDATES
    assert following.title.startswith("The next token") and c.text[-5:].replace("\n", "↵") in following.title


@pytest.mark.parametrize("position, message", [("abc", "Expected a number for position"),
                                               (float("nan"), "not NaN")])
def test_candidates_refuse_what_they_cannot_use(long_continuation, position, message):
    with pytest.raises(InputError, match=message):
        studio.candidates(long_continuation, position)
    with pytest.raises(InputError, match="Generate a continuation first"):
        studio.candidates(None, 3)
    with pytest.raises(InputError, match="Generate a continuation first"):
        studio.candidates("a string from a client", 3)
    assert studio.candidates(long_continuation, 10**9).drawn is None  # clamped: the next token
    assert studio.candidates(long_continuation, -4).title.startswith("Character 1 ")


@pytest.mark.filterwarnings("ignore:Glyph .* missing from font")  # no CJK in DejaVu Sans: boxes, not an error
def test_the_figures_draw(long_continuation):
    figure = studio.candidates_figure(studio.candidates(long_continuation, 7))
    assert isinstance(figure, Figure) and png(figure).startswith(b"\x89PNG")
    labels = ["$$", "$x$", "␣", "↵", "😀", "日本", "a", "b", "c", "d"]  # text, never maths
    odd = studio.Candidates(labels, [0.1] * 10, [0.1] * 10, 3, "after “…$$ a $b$”")
    assert png(studio.candidates_figure(odd)).startswith(b"\x89PNG")
    assert png(studio.attention_figure(studio.attention("ROMEO:\n$5 $$ ok", 2, 2, GPT))).startswith(b"\x89PNG")


# --- attention --------------------------------------------------------------------------------------

def test_attention_rows_are_distributions_over_earlier_tokens(shakespeare):
    a = studio.attention("ROMEO:\nWhat say you?", 3, 4, GPT)
    t = len("ROMEO:\nWhat say you?")
    assert a.weights.shape == (t, t) and len(a.labels) == t
    assert torch.allclose(a.weights.sum(dim=1), torch.ones(t), atol=1e-5)
    assert (a.weights.triu(1) == 0).all() and (a.weights >= 0).all()
    assert a.title.startswith("Layer 3, head 4")
    clamped = studio.attention("ROMEO:", 99, -5, GPT)
    assert clamped.title.startswith(f"Layer {shakespeare.config.n_layer}, head 1")
    long = studio.attention("To be, or not to be. " * 50, 1, 1, GPT)
    assert long.weights.shape[0] == min(studio.ATTENTION_TOKENS, shakespeare.config.block_size)
    assert studio.attention("", 1, 1, GPT).labels == ["↵"]
    for layer, message in [("two", "Expected a number for layer"), (float("nan"), "not NaN")]:
        with pytest.raises(InputError, match=message):
            studio.attention("ROMEO:", layer, 1, GPT)
    with pytest.raises(InputError, match="does not know these characters: 'é'"):
        studio.attention("café", 1, 1, GPT)


# --- bad input --------------------------------------------------------------------------------------

def test_bad_values_are_clamped_or_clear_errors(shakespeare):
    c = last(studio.stream("ROMEO:", 3, temperature=1e9, top_k=-7, top_p=-1, seed=-5, model=GPT))
    assert (c.temperature, c.top_k, c.top_p, c.seed) == (studio.MAX_TEMPERATURE, None, studio.MIN_TOP_P, 0)
    assert last(studio.stream("ROMEO:", "4", top_k=10**9, model=GPT)).top_k == shakespeare.config.vocab_size
    for kwargs, message in [(dict(temperature=float("nan")), "Expected a number for temperature, not NaN"),
                            (dict(max_new_tokens="many"), "Expected a number for max_new_tokens, not 'many'"),
                            (dict(top_p=[0.5]), "Expected a number for top_p"),
                            (dict(seed="lucky"), "Expected a number for seed, not 'lucky'"),
                            (dict(prompt="x" * (studio.MAX_PROMPT_CHARS + 1)), "the limit is 20,000"),
                            (dict(prompt="naïve “quotes” 😀"), "these characters: 'ï' '“' '”' '😀'"),
                            (dict(model="nope"), "Unknown model 'nope'")]:
        with pytest.raises(InputError, match=message):
            last(studio.stream(**{"prompt": "ROMEO:", "max_new_tokens": 2, **kwargs}))


def test_empty_and_long_prompts(shakespeare):
    empty = last(studio.stream("", 3, seed=0, model=GPT))
    assert empty.prompt == "\n" and empty.prompt_ids == shakespeare.tokenizer.encode("\n") and not empty.notes
    assert last(studio.stream(None, 3, seed=0, model=GPT)).prompt == "\n"
    block = shakespeare.config.block_size
    prompt = "Now is the winter of our discontent. " * 10
    long = last(studio.stream(prompt, 3, seed=0, model=GPT))
    assert long.prompt == prompt[-block:] and len(long.prompt_ids) == block
    assert long.notes == [f"The prompt has {len(prompt):,} characters; the model sees only its last {block}."]


# --- a BPE model (a tiny GPT-2) ---------------------------------------------------------------------

class Models:
    """Stands in for the app's registry: these models, by name, and nothing else."""

    def __init__(self, models: dict):
        self.models = models

    def get(self, name, *kinds):
        if name not in self.models:
            raise ModelLoadError(f"{name} cannot be loaded here")
        return self.models[name]

    def names(self, *kinds):
        return list(self.models)


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gpt2") / "gpt2"
    save_gpt2(folder, train_tokenizer())
    return aigc.load(str(folder), device="cpu")


@pytest.fixture
def with_gpt2(monkeypatch, tiny_gpt2, shakespeare):
    monkeypatch.setattr(studio, "registry", lambda: Models({GPT: shakespeare, studio.GPT2: tiny_gpt2}))
    return tiny_gpt2


def test_a_bpe_model_streams_whole_characters_token_by_token(with_gpt2):
    gpt2 = with_gpt2
    prompt = "Café “naïve” 😀 " * 8  # more tokens than the context of 48
    c = last(studio.stream(prompt, 40, 1.3, 0, 1.0, seed=2, model=studio.GPT2))
    block = gpt2.config.block_size
    assert len(c.prompt_ids) == block and c.prompt_ids == gpt2.tokenizer.encode(prompt)[-block:]
    assert c.notes == [f"The prompt has {len(gpt2.tokenizer.encode(prompt)):,} tokens; "
                       f"the model sees only its last {block}."]
    assert len(c.pieces) == len(c.tokens) == len(c.probabilities) == 40
    assert c.text == gpt2.tokenizer.decode(c.tokens)  # token by token, no character broken
    text, highlighted, summary = ui.render(c)
    assert len(highlighted) == 1 + 40 and "".join(piece for piece, _ in highlighted[1:]) == text
    assert "40 tokens" in summary
    candidates = studio.candidates(c, 39)
    assert candidates.after[candidates.drawn] == pytest.approx(c.probabilities[39], rel=1e-4)
    a = studio.attention(prompt, 2, 4, studio.GPT2)
    assert a.weights.shape == (block, block) and a.title.endswith(f"({block} tokens of the prompt)")


def test_picking_gpt2_loads_it_and_describes_it(with_gpt2):
    model, intro, layer, head = ui.choose_model(studio.GPT2)
    assert model == studio.GPT2 and "GPT-2" in intro and "Shakespeare" not in intro
    assert (layer.maximum, head.maximum) == (with_gpt2.config.n_layer, with_gpt2.config.n_head)
    assert studio.gpt_models() == [GPT, studio.GPT2]


def test_picking_gpt2_without_the_hub_warns_and_goes_back_to_the_bundled_model(shakespeare):
    # conftest sets HF_HUB_OFFLINE=1 and nothing here can reach the Hub: the real registry, the real download code
    assert studio.GPT2 in studio.gpt_models()
    with pytest.warns(UserWarning, match="the Hub cannot be reached.*Back to gpt-shakespeare"):
        model, intro, layer, head = ui.choose_model(studio.GPT2)
    assert model == GPT and "Shakespeare" in intro
    assert (layer.maximum, head.maximum) == (shakespeare.config.n_layer, shakespeare.config.n_head)


def test_a_click_on_the_coloured_text_shows_that_tokens_candidates(long_continuation):
    clicked = gr.SelectData(None, {"index": 6, "value": [long_continuation.pieces[5], "sure (≥ 90%)"]})
    assert isinstance(ui.clicked_candidates(long_continuation, clicked), Figure)  # item 6 is token 5
    with pytest.warns(UserWarning, match="Generate a continuation first"):
        assert isinstance(ui.candidates_view(None), type(gr.skip()))


# --- in the browser ---------------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"


@pytest.mark.browser
@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=f"{CHROMIUM} is not installed")
def test_in_the_browser_a_click_shows_that_tokens_candidates_and_gpt2_falls_back(app_url):
    sync_api = pytest.importorskip("playwright.sync_api")
    expected = last(studio.stream("ROMEO:\n", studio.DEFAULT_NEW_TOKENS, studio.DEFAULT_TEMPERATURE, 0, 1.0, seed=5,
                                  model=GPT))  # what the page's defaults and seed 5 write
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(app_url)
        page.get_by_role("tab", name="Transformer").click()
        page.get_by_role("textbox", name="Seed").fill("5")
        page.get_by_role("button", name="Generate").click()
        page.wait_for_function("n => document.querySelector('#text-output textarea').value.length >= n",
                               arg=len(expected.text))
        page.locator("#text-candidates img").wait_for()  # the next token's, once the text is written
        # the last token, several lines down: Gradio draws line breaks apart, the click's index must still fit
        before = page.locator("#text-candidates img").get_attribute("src")
        tokens = page.locator("#text-confidence .token")
        assert tokens.last.inner_text() == expected.pieces[-1] != "\n"
        tokens.last.click()
        page.wait_for_function("b => document.querySelector('#text-candidates img').src !== b", arg=before)
        shown = base64.b64decode(page.locator("#text-candidates img").get_attribute("src").split(",", 1)[1])
        assert shown == png(studio.candidates_figure(studio.candidates(expected, len(expected.tokens) - 1)))
        # GPT-2 cannot be downloaded here: a warning, and the picker goes back to the bundled model
        picker = page.locator("#text-model input")
        picker.click()
        page.get_by_role("option", name=studio.GPT2).click()
        page.locator(".toast-body", has_text="the Hub cannot be reached").wait_for()
        page.wait_for_function("name => document.querySelector('#text-model input').value === name", arg=GPT)
        assert page.locator(".toast-body.error").count() == 0
        browser.close()
