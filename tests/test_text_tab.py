"""The Transformer tab without a browser: candidates, attention, steps, /next_token and /attention, bad input,
BPE models and the model picker."""

import math
import re
import time
from dataclasses import replace
from html.parser import HTMLParser

import gradio as gr
import pytest
import torch
from gradio_client import Client
from gradio_client.exceptions import AppError

import aigc
from aigc.hub import ModelLoadError
from aigc.models.tokens import context_start
from aigc.studio import InputError
from aigc.studio import text as studio
from aigc.studio.models import registry
from aigc.ui import text as ui
from helpers import save_gpt2, train_tokenizer

GPT = studio.DEFAULT_MODEL


def last(stream):
    *_, item = stream
    return item


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


def test_the_views_show_text_as_text(long_continuation):
    odd = studio.Candidates(["<b>", "$x$", "␣"], [0.5, 0.3, 0.2], [0.6, 0.4, 0.0], 1, "after “…<i>”")
    chart = studio.candidates_html(odd)
    assert "&lt;b&gt;" in chart and "<b>" not in chart and "&lt;i&gt;" in chart
    assert "$x$ ◀ drawn" in chart and 'title="$x$: 0.3000 by the model, 0.4000 after the settings"' in chart
    a = studio.TokenAttention(["<", "script", ">"], 2, 1, torch.tensor([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]]))
    view = studio.attention_html(a, 2)
    assert "<script>" not in view and view.count('class="query"') == 1 + 1 + 2  # caption, large text, each head
    assert view.count("<figure") == 2 and 'title="token 0: 1.0000"' in view


# --- attention --------------------------------------------------------------------------------------

def test_a_tokens_attention_is_its_row_of_the_models_maps(shakespeare):
    text = "ROMEO:\nWhat say you?"
    ids = torch.tensor(shakespeare.tokenizer.encode(text))
    maps = shakespeare.attention_maps(ids)
    for index, layer in [(0, 1), (5, 3), (len(text) - 1, shakespeare.config.n_layer)]:
        a = studio.attention(text, index, layer, GPT)
        assert a.heads.shape == (shakespeare.config.n_head, index + 1) and a.tokens == list(text)
        assert torch.allclose(a.heads.sum(dim=1), torch.ones(len(a.heads)), atol=1e-5)
        assert torch.allclose(a.heads, maps[layer - 1, :, index, : index + 1], atol=1e-5)
    assert studio.attention(text, -1, 2, GPT).index == len(text) - 1


@pytest.mark.parametrize("kwargs, message", [
    (dict(text=""), "Give a text"),
    (dict(index=7), "index must be between -7 and 6 here, not 7"),
    (dict(index=-8), "index must be between -7 and 6 here, not -8"),
    (dict(layer=0), "layer must be between 1 and"),
    (dict(layer=99), "layer must be between 1 and"),
    (dict(layer="two"), "Expected a number for layer"),
    (dict(text="café"), "does not know these characters: 'é'"),
    (dict(model="nope"), "Unknown model 'nope'"),
])
def test_attention_refuses_what_it_cannot_show(kwargs, message):
    with pytest.raises(InputError, match=message):
        studio.attention(**{"text": "ROMEO:\n", "model": GPT, **kwargs})


def test_a_written_tokens_attention_covers_the_window_it_was_read_in(long_continuation, shakespeare):
    c, block = long_continuation, shakespeare.config.block_size
    for position in [0, 100, LONG - 1]:
        item = len(c.prompt_ids) + position
        a = studio.token_attention(c, item, 2)
        window = c.context(position + 1, block)
        assert a.tokens == [shakespeare.tokenizer.decode([i]) for i in window] and a.index == len(window) - 1
        assert a.tokens[-1] == c.pieces[position] and len(window) <= block
        assert torch.allclose(a.heads, shakespeare.attention_maps(torch.tensor(window))[1, :, -1], atol=1e-5)
    prompt_token = studio.token_attention(c, 2, 1)
    assert prompt_token.tokens == ["R", "O", "M"] and prompt_token.heads.shape[1] == 3
    assert studio.token_attention(c).tokens[-1] == c.pieces[-1]  # none clicked: the last token


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
    text, coloured, summary = ui.render(c)
    spans = tokens_of(coloured)
    prompt_items = len(c.prompt_ids)  # one span a token, the prompt's too: a selection's index is the token's
    assert [span["data-i"] for span in spans] == [str(i) for i in range(prompt_items + 40)]
    assert "".join(span["text"] for span in spans[prompt_items:]) == text
    assert "".join(span["text"] for span in spans[:prompt_items]) == c.prompt
    assert "40 tokens" in summary
    candidates = studio.candidates(c, 39)
    assert candidates.after[candidates.drawn] == pytest.approx(c.probabilities[39], rel=1e-4)
    a = studio.attention(prompt, -1, 2, studio.GPT2)
    assert a.heads.shape == (gpt2.config.n_head, block) and "".join(a.tokens) == gpt2.tokenizer.decode(c.prompt_ids)
    assert a.tokens == c.prompt_pieces and len(a.tokens) == block  # BPE tokens, shown as tokens
    answer = studio.next_token(prompt, 0.0, 0, 1.0, 2, studio.GPT2)
    assert answer["candidates"][0] == {**answer["candidates"][0], "token": answer["token"], "p_filtered": 1.0}
    written = studio.token_attention(c, len(c.prompt_ids) + 39, 1)
    assert written.tokens[-1] == c.pieces[39]


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


def test_a_click_selects_that_token_and_the_views_follow_it(long_continuation):
    c = long_continuation
    item = len(c.prompt_ids) + 5  # the prompt's tokens come first
    assert ui.clicked(gr.SelectData(None, {"index": item, "value": c.pieces[5]})) == item
    chart = ui.candidates_view(c, item, "ROMEO:\n", 0.9, 20, 0.95, GPT)
    assert chart == studio.candidates_html(studio.candidates(c, 5))
    view = ui.attention_view(c, item, "ROMEO:\n", GPT, 2, 3)
    assert view == studio.attention_html(studio.token_attention(c, item, 2), 3)
    # another prompt than the text's: the views look at that prompt, before anything is written
    assert "The next token, after “…To be”" in ui.candidates_view(c, item, "To be", 1.0, 0, 1.0, GPT)
    with pytest.warns(UserWarning, match="does not know these characters"):
        assert isinstance(ui.attention_view(None, None, "café", GPT, 1, 1), type(gr.skip()))


# --- the coloured text -------------------------------------------------------------------------------

class Spans(HTMLParser):
    """The token spans of a confidence view: their attributes, and their text as written."""

    def __init__(self):
        super().__init__()
        self.spans, self.inside = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "span" and "data-i" in dict(attrs):
            self.inside = {**dict(attrs), "text": ""}
            self.spans.append(self.inside)

    def handle_data(self, data):
        if self.inside is not None:
            self.inside["text"] += data.replace("↵\n", "\n")

    def handle_endtag(self, tag):
        self.inside = None


def tokens_of(view: str) -> list[dict]:
    parser = Spans()
    parser.feed(view)
    return parser.spans


def test_each_written_token_shows_its_band_by_colour_and_underline_and_says_its_probability(long_continuation):
    c = long_continuation
    spans = tokens_of(studio.confidence_html(c))
    prompt, written = spans[: len(c.prompt_ids)], spans[len(c.prompt_ids):]
    assert all(span["class"] == "t p" and span["title"] == "the prompt" for span in prompt)
    for span, p in zip(written, c.probabilities, strict=True):
        band = next(i for i, b in enumerate(studio.BANDS) if p >= b.low)
        assert span["class"] == f"t b{band}" and span["title"] == f"{p:.1%}: {studio.BANDS[band].label}"
        assert span["role"] == "button" and span["title"]  # a name even for a space or a line break
    assert {span["class"] for span in written} >= {"t b0", "t b3"}  # sure and unsure tokens both occur here
    # one tab stop for the whole text, on the first written token: the arrows move on from there
    assert [span["data-i"] for span in spans if span.get("tabindex") == "0"] == [str(len(c.prompt_ids))]
    before = tokens_of(studio.confidence_html(studio.begin("ROMEO:\n", model=GPT)))
    assert [span.get("tabindex") for span in before][:2] == ["0", None]  # nothing written: the prompt's first
    assert "<b>" not in studio.confidence_html(replace(c, pieces=["<b>"] * len(c.pieces)))


def luminance(colour: str) -> float:
    """WCAG 2 relative luminance of "#rrggbb"."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4 for x in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    lighter, darker = sorted((luminance(a), luminance(b)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_the_coloured_tokens_are_readable_and_told_apart_without_colour():
    """The style the page is sent: each band's text on its own background (the same in light and dark pages)."""
    css = studio.confidence_css()
    styles = re.findall(r"\.t\.b(\d) \{ background: (#[0-9a-f]{6}); color: (#[0-9a-f]{6}); text-decoration: ([^;]+);",
                        css)
    assert [int(i) for i, *_ in styles] == list(range(len(studio.BANDS)))
    for _, background, text, _ in styles:
        assert contrast(background, text) >= 4.5, (background, text)
    decorations = [decoration.split(" ")[:2] for *_, decoration in styles]
    assert len({tuple(d) for d in decorations}) == len(studio.BANDS)  # a second cue: no two underlined alike
    assert len({background for _, background, _, _ in styles}) == len(studio.BANDS)
    assert ":focus-visible" in css and '[aria-current="true"]' in css  # the focused and the selected token show


# --- sampling made visible, step by step --------------------------------------------------------------

def test_the_candidates_follow_the_settings_before_anything_is_drawn(shakespeare):
    prompt = studio.begin("ROMEO:\n", model=GPT)
    plain = studio.candidates(prompt)
    for settings in [(0.0, 0, 1.0), (1.5, 3, 1.0), (1.0, 0, 0.3)]:
        c = studio.candidates(prompt, None, settings)
        assert c.before == plain.before and c.drawn is None
        kept = [p for p in c.after if p > 0]
        assert math.isclose(sum(kept), 1.0, rel_tol=1e-5) or settings[2] < 1
    assert studio.candidates(prompt, None, (0.0, 0, 1.0)).after[0] == 1.0  # temperature 0: the likeliest, surely
    hot, cool = (studio.candidates(prompt, None, (t, 0, 1.0)).after[0] for t in (2.0, 0.5))
    assert hot < cool  # a higher temperature flattens the distribution


def test_steps_write_what_a_generation_with_the_same_seed_writes_one_token_a_press():
    whole = last(studio.stream("ROMEO:\n", 5, 0.9, 0, 1.0, seed=11, model=GPT))
    c = None
    for n in range(1, 6):
        c = studio.step(c, "ROMEO:\n", 0.9, 0, 1.0, 11, GPT)
        assert len(c.tokens) == n and c.text == "".join(whole.pieces[:n])
    random_seed = studio.step(None, "ROMEO:\n", 0.9, 0, 1.0, "", GPT)
    assert len(studio.step(random_seed, "ROMEO:\n", 0.9, 0, 1.0, "", GPT).tokens) == 2  # its seed is kept
    assert len(studio.step(c, "ROMEO:\n", 0.5, 0, 1.0, 11, GPT).tokens) == 1  # other settings: from the prompt
    assert len(studio.step(c, "JULIET:\n", 0.9, 0, 1.0, 11, GPT).tokens) == 1
    text, coloured, _, stepped, selected = ui.step(c, "ROMEO:\n", 0.9, 0, 1.0, 11, GPT)
    assert text.startswith(whole.text) and len(stepped.tokens) == 6
    assert selected == int(tokens_of(coloured)[-1]["data-i"])  # the views look at the new token


def test_a_paced_generation_sends_each_token_at_its_speed():
    started = time.monotonic()
    updates = list(ui.text_generate("ROMEO:\n", 6, 0.8, 0, 1.0, 3, GPT, speed=20))
    assert time.monotonic() - started >= 6 / 20 * 0.9
    assert [len(update[0]) for update in updates[:6]] == [1, 2, 3, 4, 5, 6]  # Stop lands between two tokens
    # and the views of a stopped text look at what was shown, not at a token written after it
    assert [len(update[3].tokens) for update in updates[:6]] == [1, 2, 3, 4, 5, 6]


def test_a_paced_generation_keeps_its_pace_for_a_while_only(monkeypatch):
    """A paced text holds the heavy worker and a ZeroGPU call: past MAX_PACED_S the rest comes at once."""
    monkeypatch.setattr(ui, "MAX_PACED_S", 0.2)
    started = time.monotonic()
    *_, (text, _, summary, _) = ui.text_generate("ROMEO:\n", 200, 0.8, 0, 1.0, 3, GPT, speed=10)
    assert time.monotonic() - started < 5 and len(text) == 200
    assert "Written at 10 tokens a second for 0.2 s, then as fast as the model writes." in summary


def test_next_token_is_the_first_token_generated_with_the_same_seed():
    whole = last(studio.stream("ROMEO:\n", 1, 1.2, 0, 1.0, seed=8, model=GPT))
    answer = studio.next_token("ROMEO:\n", 1.2, 0, 1.0, 8, GPT)
    assert answer["token"] == whole.text and answer["seed"] == 8
    ps = [candidate["p"] for candidate in answer["candidates"]]
    assert ps == sorted(ps, reverse=True) and len(ps) == studio.CANDIDATES


# --- the API of the running app ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_the_new_endpoints_have_the_contract_parameters_each_with_a_default(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    for name, expected in {"/next_token": ["model", "prompt", "temperature", "top_k", "top_p", "seed"],
                           "/attention": ["model", "text", "index", "layer"]}.items():
        parameters = {p["parameter_name"]: p for p in endpoints[name]["parameters"]}
        assert set(expected) <= set(parameters), name
        assert all(parameters[p]["parameter_has_default"] for p in expected), name


def test_next_token_through_the_api(client):
    answer = client.predict(prompt="ROMEO:\n", temperature=1.0, top_k=5, top_p=1.0, seed=3, api_name="/next_token")
    kept = [c["p_filtered"] for c in answer["candidates"] if c["p_filtered"] > 0]
    assert len(kept) == 5 and math.isclose(sum(kept), 1.0, rel_tol=1e-5)
    assert answer["token"] in [c["token"] for c in answer["candidates"][:5]]
    assert answer == client.predict(prompt="ROMEO:\n", temperature=1.0, top_k=5, seed=3, api_name="/next_token")
    greedy = client.predict(prompt="ROMEO:\n", temperature=0, api_name="/next_token")
    assert greedy["token"] == greedy["candidates"][0]["token"] and greedy["candidates"][0]["p_filtered"] == 1.0


def test_attention_through_the_api(client, shakespeare):
    text = "ROMEO:\nWhat say you?"
    answer = client.predict(text=text, index=9, layer=2, model=GPT, api_name="/attention")
    assert answer["tokens"] == list(text) and (answer["index"], answer["layer"]) == (9, 2)
    heads = torch.tensor(answer["heads"])
    assert heads.shape == (shakespeare.config.n_head, 10)  # causal: only the token and those before it
    assert torch.allclose(heads.sum(dim=1), torch.ones(len(heads)), atol=1e-5)
    maps = shakespeare.attention_maps(torch.tensor(shakespeare.tokenizer.encode(text)))
    assert torch.allclose(heads, maps[1, :, 9, :10], atol=1e-5)


@pytest.mark.parametrize("call, message", [
    (dict(text="", api_name="/attention"), "Give a text"),
    (dict(text="ROMEO", index=5, api_name="/attention"), "index must be between -5 and 4"),
    (dict(text="ROMEO", layer=0, api_name="/attention"), "layer must be between 1 and"),
    (dict(text="ROMEO", model="nope", api_name="/attention"), "Unknown model 'nope'"),
    (dict(prompt="ROMEO", model="nope", api_name="/next_token"), "Unknown model 'nope'"),
    (dict(prompt="naïve", api_name="/next_token"), "does not know these characters"),
    (dict(prompt="ROMEO", temperature="hot", api_name="/next_token"), "Expected a number for temperature"),
])
def test_bad_input_to_the_new_endpoints_is_a_clear_error(client, call, message):
    with pytest.raises(AppError, match=message):
        client.predict(**call)
    assert client.predict(prompt="", temperature=0, api_name="/next_token")["token"]  # empty: after a newline


# --- in the browser ---------------------------------------------------------------------------------

@pytest.mark.browser
def test_in_the_browser_a_click_shows_that_tokens_candidates_and_gpt2_falls_back(browser, app_url):
    expected = last(studio.stream("ROMEO:\n", studio.DEFAULT_NEW_TOKENS, studio.DEFAULT_TEMPERATURE, 0, 1.0, seed=5,
                                  model=GPT))  # what the page's defaults and seed 5 write
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(120_000)  # the machine is shared: a first event may queue behind other tabs' work
    page.goto(app_url)
    page.get_by_role("tab", name="Transformer").click()
    page.get_by_role("textbox", name="Seed").fill("5")
    page.get_by_role("button", name="Generate").click()
    page.wait_for_function("n => document.querySelector('#text-output textarea').value.length >= n",
                           arg=len(expected.text))
    title = "#text-candidates .aigc-candidates p"
    page.locator(title, has_text=studio.candidates(expected).title).wait_for()  # the next token's, once written
    # the last token, several lines down: the click's index is still the token's
    tokens = page.locator("#text-confidence .tokens .t")
    assert tokens.last.inner_text() == expected.pieces[-1] != "\n"
    tokens.last.click()
    last_token = studio.candidates(expected, len(expected.tokens) - 1)
    page.locator(title, has_text=last_token.title).wait_for()
    drawn = page.locator("#text-candidates .drawn code").inner_text()
    assert drawn == f"{last_token.labels[last_token.drawn]} ◀ drawn"
    # GPT-2 cannot be downloaded here: a warning, and the picker goes back to the bundled model
    picker = page.locator("#text-model input")
    picker.click()
    page.get_by_role("option", name=studio.GPT2).click()
    page.locator(".toast-body", has_text="the Hub cannot be reached").wait_for()
    page.wait_for_function("name => document.querySelector('#text-model input').value === name", arg=GPT)
    assert page.locator(".toast-body.error").count() == 0
    page.close()
