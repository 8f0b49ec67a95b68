"""GPT-2 checkpoints of the Hugging Face Hub (the ``transformers`` format) read into our GPT.

GPT-2 is the architecture that nanoGPT, and so ``gpt.py``, reproduces: the
same pre-LayerNorm blocks, tanh GELU, learned positions and output layer tied
to the token embedding, with the same parameter names.  Only the storage
differs: its linear layers are ``Conv1D`` modules, which keep the weight as
[in, out] where ``nn.Linear`` keeps [out, in], and a checkpoint may hold the
attention masks as buffers.  Its tokenizer is byte-level BPE, read from
``tokenizer.json`` (``tokens.BPETokenizer``): any string can be encoded, and
one character may take several tokens.  The loader (``aigc.hub``) checks
the files and builds the model from these conversions.
"""

from aigc.models.gpt import GPTConfig

MODEL_TYPE = "gpt2"  # config.json's model_type in transformers
TOKENIZER_FILE = "tokenizer.json"
CONV1D_WEIGHTS = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
MASK_BUFFERS = (".attn.bias", ".attn.masked_bias")
TANH_GELUS = ("gelu_new", "gelu_pytorch_tanh")  # transformers' names for the tanh approximation


def config_from_transformers(hf: dict) -> GPTConfig:
    """A transformers GPT-2 config.json -> our GPTConfig; variants that our GPT does not compute are refused."""
    if hf.get("model_type") != MODEL_TYPE:
        raise ValueError(f"not a GPT-2 config: model_type {hf.get('model_type')!r}")
    if hf.get("activation_function", "gelu_new") not in TANH_GELUS:
        raise ValueError(f"activation_function {hf['activation_function']!r} is not GPT-2's tanh GELU")
    if hf.get("layer_norm_epsilon", 1e-5) != 1e-5:
        raise ValueError(f"layer_norm_epsilon {hf['layer_norm_epsilon']} is not GPT-2's 1e-5")
    missing = [key for key in ("vocab_size", "n_positions", "n_layer", "n_head", "n_embd") if key not in hf]
    if missing:
        raise ValueError(f"no {', '.join(missing)}")
    return GPTConfig(tokenizer="bpe", vocab_size=hf["vocab_size"], block_size=hf["n_positions"],
                     n_layer=hf["n_layer"], n_head=hf["n_head"], n_embd=hf["n_embd"], dropout=0.0, bias=True)


def state_dict_from_transformers(tensors: dict) -> dict:
    """GPT-2's tensors -> our state dict: Conv1D weights transposed, mask buffers dropped, the head tied."""
    ours = {}
    for name, tensor in tensors.items():
        name = name.removeprefix("transformer.")
        if name.endswith(MASK_BUFFERS) or name == "lm_head.weight":  # a constant; a copy of wte
            continue
        ours[f"transformer.{name}"] = tensor.t() if name.endswith(CONV1D_WEIGHTS) else tensor
    if "transformer.wte.weight" in ours:
        ours["lm_head.weight"] = ours["transformer.wte.weight"]
    return ours
