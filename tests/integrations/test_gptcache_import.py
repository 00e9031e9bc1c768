"""dejacache.integrations.gptcache.import_gptcache and `dejacache import-gptcache`, on a data
directory written by GPTCache itself (sqlite + faiss, a tiny offline embedding)."""

from __future__ import annotations

import os
import sqlite3
import zlib

import numpy as np
import pytest

pytest.importorskip("gptcache")
pytest.importorskip("faiss")

import dejacache  # noqa: E402
from dejacache import Semantic, evaluation  # noqa: E402
from dejacache.cli import main  # noqa: E402
from dejacache.integrations.gptcache import gptcache_threshold_to_cosine, import_gptcache  # noqa: E402
from semantic_helpers import WordEmbedder  # noqa: E402

DIM = 16


def tiny_embedding(text, **_):
    v = np.zeros(DIM, np.float32)
    for w in text.lower().split():
        v[zlib.crc32(w.encode()) % DIM] += 1
    return v / np.linalg.norm(v)


@pytest.fixture(scope="module")
def gptcache_dir(tmp_path_factory):
    """A GPTCache sqlite + faiss directory: 6 questions answered through GPTCache's own API, one of
    them then soft-deleted, one dropped from the index, one with an image answer."""
    from gptcache import Cache as GCache
    from gptcache import Config
    from gptcache.adapter.api import get, put
    from gptcache.manager import CacheBase, VectorBase, get_data_manager
    from gptcache.manager.scalar_data.base import Answer, DataType
    from gptcache.processor.pre import get_prompt
    from gptcache.similarity_evaluation.distance import SearchDistanceEvaluation

    d = str(tmp_path_factory.mktemp("gptcache"))
    dm = get_data_manager(
        CacheBase("sqlite", sql_url=f"sqlite:///{d}/sqlite.db"),
        VectorBase("faiss", dimension=DIM, index_path=os.path.join(d, "faiss.index")),
        max_size=100,
    )
    g = GCache()
    g.init(
        pre_embedding_func=get_prompt,
        embedding_func=tiny_embedding,
        data_manager=dm,
        similarity_evaluation=SearchDistanceEvaluation(),
        config=Config(similarity_threshold=0.8),
    )
    for i in range(6):
        put(f"what is the capital of country {i}", f"capital {i}", cache_obj=g)
    assert get("what is the capital of country 3", cache_obj=g) == "capital 3"
    dm.s.mark_deleted([2])  # GPTCache's soft delete ("country 1")
    dm.v.delete([3])  # the vector of "country 2" gone from the index
    dm.save("draw a cat", Answer("http://img/cat.png", DataType.IMAGE_URL), tiny_embedding("draw a cat"))
    dm.flush()
    return d


def test_imports_what_gptcache_could_serve(gptcache_dir):
    cache = dejacache.Cache()
    report = import_gptcache(gptcache_dir, cache, model="gpt-4o-mini")
    assert (report.questions, report.imported) == (7, 4)
    assert (report.deleted, report.not_in_index, report.not_text) == (1, 1, 1)
    assert (report.faiss_vectors, report.dimension) == (6, DIM)
    assert "imported 4 of 7" in str(report)
    hit = cache.get(
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "what is the capital of country 3"}]}
    )
    assert hit is not None and hit.response["choices"][0]["message"]["content"] == "capital 3"
    assert hit.meta["gptcache_id"] == 4
    gone = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "what is the capital of country 1"}]}
    assert cache.get(gone) is None


def test_sqlite_only_and_custom_shapes(gptcache_dir):
    cache = dejacache.Cache()
    report = import_gptcache(
        os.path.join(gptcache_dir, "sqlite.db"),
        cache,
        use_index=False,
        request=lambda q: {"prompt": q},
        response=lambda answer, qid: {"text": answer},
        namespace="migrated",
    )
    assert report.imported == 5 and report.faiss_path is None
    assert cache.get({"prompt": "what is the capital of country 2"}, namespace="migrated").response == {
        "text": "capital 2"
    }
    assert cache.get({"prompt": "what is the capital of country 2"}) is None  # another namespace


def test_a_semantic_cache_embeds_the_imported_questions(gptcache_dir):
    cache = dejacache.Cache(semantic=Semantic(embedder=WordEmbedder(), threshold=0.9, evaluator=evaluation.Cosine()))
    import_gptcache(gptcache_dir, cache, model="m")
    hit = cache.get({"model": "m", "messages": [{"role": "user", "content": "What's the capital of country 4?"}]})
    assert hit is not None and hit.source == "semantic"
    assert hit.response["choices"][0]["message"]["content"] == "capital 4"


def test_cli_into_a_sqlite_store(gptcache_dir, tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'dc.db'}"
    assert main(["import-gptcache", gptcache_dir, "--store", url, "--model", "gpt-4o-mini"]) == 0
    assert "imported 4 of 7" in capsys.readouterr().out
    cache = dejacache.Cache(store=url)
    req = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "what is the capital of country 5"}]}
    assert cache.get(req).response["choices"][0]["message"]["content"] == "capital 5"


def test_the_gptcache_directory_is_left_unchanged(gptcache_dir):
    before = {n: os.path.getmtime(os.path.join(gptcache_dir, n)) for n in os.listdir(gptcache_dir)}
    rows = sqlite3.connect(os.path.join(gptcache_dir, "sqlite.db")).execute("SELECT COUNT(*) FROM gptcache_question")
    import_gptcache(gptcache_dir, dejacache.Cache())
    assert {n: os.path.getmtime(os.path.join(gptcache_dir, n)) for n in os.listdir(gptcache_dir)} == before
    assert rows.fetchone() == (7,)


def test_bad_input_says_what_to_do(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="sqlite.db"):
        import_gptcache(tmp_path, dejacache.Cache())
    (tmp_path / "data_map.txt").write_bytes(b"\x80\x04not read")
    with pytest.raises(ValueError, match="never unpickles"):
        import_gptcache(tmp_path, dejacache.Cache())
    with pytest.raises(ValueError, match="table_prefix"):
        import_gptcache(tmp_path, dejacache.Cache(), table_prefix="x; DROP TABLE y")
    assert main(["import-gptcache", str(tmp_path / "nowhere"), "--store", f"sqlite:///{tmp_path / 'c.db'}"]) == 2
    assert "no GPTCache data directory" in capsys.readouterr().err


@pytest.mark.parametrize("threshold, cosine", [(0.8, 0.6), (0.9, 0.8), (0.5, 0.0), (1.0, 1.0), (0.0, -1.0)])
def test_threshold_conversion(threshold, cosine):
    assert gptcache_threshold_to_cosine(threshold) == pytest.approx(cosine)


def test_threshold_conversion_matches_gptcache_on_unit_vectors():
    # GPTCache serves a match when 4 - d2 >= 4 t (FAISS's squared L2 d2): check on real vectors.
    rng = np.random.default_rng(0)
    t = 0.8
    for _ in range(200):
        a, b = rng.standard_normal((2, 8))
        a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
        d2 = float(np.sum((a - b) ** 2))
        assert (4 - d2 >= 4 * t) == (float(a @ b) >= gptcache_threshold_to_cosine(t) - 1e-12)
