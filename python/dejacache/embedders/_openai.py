"""Any OpenAI-compatible ``/embeddings`` endpoint (OpenAI, vLLM, llama.cpp, Ollama, TEI, ...)."""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

from ._base import EmbedderUnavailableError, EmbeddingError, check_texts, unit_rows


class OpenAIEmbedder:
    """POSTs ``{"model", "input": [texts]}`` to ``{base_url}/embeddings`` with httpx.

    ``dim`` is learnt from the first response when not given (reading ``.dim`` before any
    call sends one probe request). Lists longer than ``max_batch`` go in several requests.
    Rows are L2-normalised, whatever the server returns.

    >>> e = OpenAIEmbedder("http://127.0.0.1:8000/v1", "text-embedding-3-small", api_key="sk-...")  # doctest: +SKIP
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        dim: int | None = None,
        timeout: float = 30.0,
        max_batch: int = 256,
        client: Any = None,
    ) -> None:
        if importlib.util.find_spec("httpx") is None and client is None:
            raise EmbedderUnavailableError('httpx is not installed: pip install "dejacache[embed-remote]"')
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        if client is None:
            import httpx

            headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
            client = httpx.Client(timeout=timeout, headers=headers)
        self._client = client
        self._url = base_url.rstrip("/") + "/embeddings"
        self.model = model
        self.max_batch = max_batch
        self.name = f"openai:{model}"
        self._dim = dim

    @property
    def dim(self) -> int:
        if self._dim is None:
            self.embed(["dimension probe"])
        assert self._dim is not None
        return self._dim

    def _request(self, texts: list[str]) -> np.ndarray:
        response = self._client.post(self._url, json={"model": self.model, "input": texts, "encoding_format": "float"})
        if response.status_code != 200:
            raise EmbeddingError(f"{self._url} answered HTTP {response.status_code}: {response.text[:300]}")
        try:
            data = sorted(response.json()["data"], key=lambda d: d["index"])
            vectors = [d["embedding"] for d in data]
        except (ValueError, KeyError, TypeError) as e:
            raise EmbeddingError(f"{self._url} returned no OpenAI-shaped 'data' list ({e!r})") from None
        return unit_rows(vectors, len(texts), self._dim, self.name)

    def embed(self, texts: list[str]) -> np.ndarray:
        texts = check_texts(texts)
        if not texts:
            return np.empty((0, self._dim or 0), dtype=np.float32)
        parts = []
        for start in range(0, len(texts), self.max_batch):
            part = self._request(texts[start : start + self.max_batch])
            self._dim = part.shape[1]
            parts.append(part)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"OpenAIEmbedder(url={self._url!r}, model={self.model!r})"
