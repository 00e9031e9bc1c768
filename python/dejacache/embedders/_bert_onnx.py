"""Builds a BERT sentence encoder as an ONNX graph, in memory, from its safetensors weights.

The graph is embeddings -> N encoder layers -> mean pooling over the attention mask -> L2
normalisation, i.e. exactly what sentence-transformers computes for all-MiniLM-L6-v2. Building it
here (instead of shipping an exported ``.onnx``) means the only thing a user installs is the
original weights, torch never enters the picture, and nothing is written to disk.

Inputs: ``input_ids`` and ``attention_mask``, int64 of shape (batch, sequence). Token type ids
are always 0 for single sentences, so that embedding row is folded into the position table.
Output: ``sentence_embedding``, float32 (batch, hidden), unit rows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import numpy as np

#: the opset whose operator signatures this builder uses (LayerNormalization needs >= 17)
OPSET = 17
OUTPUT_NAME = "sentence_embedding"


def _layer_count(weights: Mapping[str, np.ndarray]) -> int:
    indices = {int(m.group(1)) for k in weights if (m := re.match(r"encoder\.layer\.(\d+)\.", k))}
    if not indices or indices != set(range(len(indices))):
        raise ValueError(
            "these weights do not look like a BERT encoder: expected keys 'encoder.layer.<i>.*' "
            "for consecutive i starting at 0"
        )
    return len(indices)


def build_bert_sentence_encoder(
    weights: Mapping[str, np.ndarray], *, num_heads: int, layer_norm_eps: float = 1e-12
) -> bytes:
    """Serialised ONNX model of a mean-pooled, normalised BERT sentence encoder.

    ``weights`` maps Hugging Face ``BertModel`` parameter names (``embeddings.*``,
    ``encoder.layer.<i>.*``) to arrays, as ``safetensors.numpy.load_file`` returns them.

    >>> from safetensors.numpy import load_file  # doctest: +SKIP
    >>> model = build_bert_sentence_encoder(load_file("model.safetensors"), num_heads=12)  # doctest: +SKIP
    >>> onnxruntime.InferenceSession(model)  # doctest: +SKIP
    """
    from onnx import TensorProto, checker, helper, numpy_helper

    weights = {k.removeprefix("bert."): v for k, v in weights.items()}
    try:
        word = np.asarray(weights["embeddings.word_embeddings.weight"], dtype=np.float32)
        position = np.asarray(weights["embeddings.position_embeddings.weight"], dtype=np.float32)
        token_type = np.asarray(weights["embeddings.token_type_embeddings.weight"], dtype=np.float32)
    except KeyError as e:
        raise ValueError(f"missing BERT embedding weight {e}; pass a BertModel state dict") from None
    hidden = word.shape[1]
    if hidden % num_heads:
        raise ValueError(f"hidden size {hidden} is not divisible by num_heads={num_heads}")
    head_dim = hidden // num_heads
    layers = _layer_count(weights)

    initializers: list = []
    nodes: list = []

    def const(name: str, value: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def w(key: str) -> np.ndarray:
        try:
            return np.asarray(weights[key], dtype=np.float32)
        except KeyError:
            raise ValueError(f"missing BERT weight {key!r}") from None

    def node(op: str, inputs: list[str], output: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def layer_norm(x: str, prefix: str, out: str) -> str:
        gamma = const(f"{prefix}.weight", w(f"{prefix}.weight"))
        beta = const(f"{prefix}.bias", w(f"{prefix}.bias"))
        return node("LayerNormalization", [x, gamma, beta], out, axis=-1, epsilon=layer_norm_eps)

    def dense(x: str, prefix: str, out: str) -> str:
        # Hugging Face stores Linear weights as (out, in); MatMul wants (in, out).
        weight = const(f"{prefix}.weight_t", w(f"{prefix}.weight").T)
        bias = const(f"{prefix}.bias", w(f"{prefix}.bias"))
        return node("Add", [node("MatMul", [x, weight], f"{out}.mm"), bias], out)

    # Embeddings: word + (position + token type 0), then LayerNorm.
    const("word_table", word)
    const("position_table", position + token_type[0])
    const("zero_1d", np.array([0], dtype=np.int64))
    seq_len = node("Shape", ["input_ids"], "seq_len", start=1, end=2)
    positions = node("Slice", ["position_table", "zero_1d", seq_len, "zero_1d"], "positions")
    tokens = node("Gather", ["word_table", "input_ids"], "tokens")
    x = layer_norm(node("Add", [tokens, positions], "embedded"), "embeddings.LayerNorm", "x0")

    # Padding positions get a large negative score before the softmax.
    mask = node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    const("one", np.array(1.0, dtype=np.float32))
    const("neg_large", np.array(10000.0, dtype=np.float32))
    const("axes_1_2", np.array([1, 2], dtype=np.int64))
    bias = node("Mul", [node("Sub", [mask, "one"], "mask_minus_one"), "neg_large"], "mask_bias_2d")
    mask_bias = node("Unsqueeze", [bias, "axes_1_2"], "mask_bias")

    const("heads_shape", np.array([0, 0, num_heads, head_dim], dtype=np.int64))
    const("hidden_shape", np.array([0, 0, hidden], dtype=np.int64))
    const("qkv_split", np.array([hidden, hidden, hidden], dtype=np.int64))
    const("inv_sqrt2", np.array(1.0 / math.sqrt(2.0), dtype=np.float32))
    const("half", np.array(0.5, dtype=np.float32))
    scale = 1.0 / math.sqrt(head_dim)

    for i in range(layers):
        p = f"encoder.layer.{i}"
        a = f"{p}.attention.self"
        # One MatMul for Q, K and V; the 1/sqrt(head_dim) scale is folded into Q's weights.
        qkv_w = np.concatenate(
            [w(f"{a}.query.weight").T * scale, w(f"{a}.key.weight").T, w(f"{a}.value.weight").T], axis=1
        )
        qkv_b = np.concatenate([w(f"{a}.query.bias") * scale, w(f"{a}.key.bias"), w(f"{a}.value.bias")])
        qkv = node(
            "Add",
            [node("MatMul", [x, const(f"{p}.qkv_w", qkv_w)], f"{p}.qkv_mm"), const(f"{p}.qkv_b", qkv_b)],
            f"{p}.qkv",
        )
        nodes.append(
            helper.make_node("Split", [qkv, "qkv_split"], [f"{p}.q", f"{p}.k", f"{p}.v"], name=f"{p}.split", axis=2)
        )

        def heads(t: str, perm: list[int]) -> str:
            return node("Transpose", [node("Reshape", [t, "heads_shape"], f"{t}.r")], f"{t}.t", perm=perm)

        q = heads(f"{p}.q", [0, 2, 1, 3])
        k = heads(f"{p}.k", [0, 2, 3, 1])
        v = heads(f"{p}.v", [0, 2, 1, 3])
        scores = node("Add", [node("MatMul", [q, k], f"{p}.qk"), mask_bias], f"{p}.scores")
        probs = node("Softmax", [scores], f"{p}.probs", axis=-1)
        context = node("MatMul", [probs, v], f"{p}.context_h")
        context = node("Transpose", [context], f"{p}.context_t", perm=[0, 2, 1, 3])
        context = node("Reshape", [context, "hidden_shape"], f"{p}.context")
        attended = dense(context, f"{p}.attention.output.dense", f"{p}.attn_out")
        x = layer_norm(node("Add", [attended, x], f"{p}.attn_res"), f"{p}.attention.output.LayerNorm", f"{p}.x_attn")

        h = dense(x, f"{p}.intermediate.dense", f"{p}.inter")
        # Exact GELU, as BERT uses: 0.5 * h * (1 + erf(h / sqrt 2)).
        erf = node("Erf", [node("Mul", [h, "inv_sqrt2"], f"{p}.h_scaled")], f"{p}.erf")
        gelu = node(
            "Mul", [node("Mul", [h, "half"], f"{p}.h_half"), node("Add", [erf, "one"], f"{p}.erf1")], f"{p}.gelu"
        )
        out = dense(gelu, f"{p}.output.dense", f"{p}.ffn_out")
        x = layer_norm(node("Add", [out, x], f"{p}.ffn_res"), f"{p}.output.LayerNorm", f"{p}.x")

    # Mean over real tokens, then unit length.
    const("axis_1", np.array([1], dtype=np.int64))
    const("axis_2", np.array([2], dtype=np.int64))
    const("tiny_count", np.array(1e-9, dtype=np.float32))
    const("tiny_norm", np.array(1e-12, dtype=np.float32))
    mask3 = node("Unsqueeze", [mask, "axis_2"], "mask3")
    summed = node("ReduceSum", [node("Mul", [x, mask3], "masked"), "axis_1"], "summed", keepdims=0)
    count = node("Max", [node("ReduceSum", [mask3, "axis_1"], "count_raw", keepdims=0), "tiny_count"], "count")
    mean = node("Div", [summed, count], "mean")
    norm = node("Max", [node("ReduceL2", [mean], "norm_raw", axes=[1], keepdims=1), "tiny_norm"], "norm")
    node("Div", [mean, norm], OUTPUT_NAME)

    graph = helper.make_graph(
        nodes,
        "bert_sentence_encoder",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"]),
        ],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", hidden])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="dejacache")
    model.ir_version = 8  # the IR that opset 17 shipped with; older runtimes refuse newer IRs
    checker.check_model(model)
    return model.SerializeToString()
