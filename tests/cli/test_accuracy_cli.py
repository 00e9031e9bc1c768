"""`dejacache eval` and `dejacache tune` on small generated pair files, with the hashing
embedder so that they run without a model; plus the metric helpers and the calibrated
evaluator's interface."""

from __future__ import annotations

import builtins
import gzip
import json
import random

import numpy as np
import pytest
from dejacache import cli
from dejacache._cli.accuracy import Pairs, point_at, read_pairs, roc_auc, split_buckets, threshold_for_precision

SUBJECTS = [
    "python",
    "rust",
    "french",
    "guitar",
    "chess",
    "cooking",
    "swimming",
    "physics",
    "drawing",
    "golang",
    "piano",
    "spanish",
    "statistics",
    "calculus",
    "photography",
    "yoga",
    "painting",
    "knitting",
    "typing",
    "sql",
]
TEMPLATES = [
    ("How do I learn {s}?", "How can I learn {s}?"),
    ("What is the best way to learn {s}?", "What's the best way to learn {s}?"),
    ("Is {s} hard to learn?", "Is {s} difficult to learn?"),
    ("How long does it take to learn {s}?", "How much time does it take to learn {s}?"),
]


def write_pairs(path, n=480, seed=7):
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        s = SUBJECTS[i % len(SUBJECTS)]
        first, second = rng.choice(TEMPLATES)
        if i % 2 == 0:
            rows.append({"a": first.format(s=s), "b": second.format(s=s) + " " * (i % 3), "duplicate": True})
        else:
            other = SUBJECTS[(i * 7 + 3) % len(SUBJECTS)]
            other = other if other != s else "knitting"
            rows.append({"a": first.format(s=s), "b": rng.choice(TEMPLATES)[1].format(s=other), "duplicate": False})
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if str(path).endswith(".gz"):
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return rows


def test_metrics_on_known_scores():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    labels = np.array([True, True, False, True, False])
    p = point_at(scores, labels, 0.7)
    assert (p.precision, p.recall, p.false_positive_rate, p.hit_rate, p.served) == (2 / 3, 2 / 3, 0.5, 0.6, 3)
    assert roc_auc(scores, labels) == pytest.approx(5 / 6)
    assert roc_auc(np.array([0.5, 0.5]), np.array([True, False])) == 0.5  # ties count half
    assert threshold_for_precision(scores, labels, 0.99, min_served=1) == 0.8
    assert threshold_for_precision(scores, labels, 0.99, min_served=3) is None


def test_read_pairs_plain_and_gzip_and_bad_lines(tmp_path):
    rows = write_pairs(tmp_path / "p.jsonl.gz", n=10)
    pairs = read_pairs(tmp_path / "p.jsonl.gz")
    assert pairs.a == [r["a"] for r in rows] and pairs.duplicate.tolist() == [r["duplicate"] for r in rows]
    assert len(read_pairs(tmp_path / "p.jsonl.gz", limit=4)) == 4
    (tmp_path / "bad.jsonl").write_text('{"a": "x", "b": "y", "duplicate": true}\n{"a": "x"}\n')
    with pytest.raises(ValueError, match="bad.jsonl:2"):
        read_pairs(tmp_path / "bad.jsonl")
    with pytest.raises(FileNotFoundError):
        read_pairs(tmp_path / "missing.jsonl")


def test_split_buckets_are_stable_and_order_independent():
    pairs = Pairs(["a", "b", "c"], ["x", "a", "z"], np.array([True, False, True]))
    mirrored = Pairs(["x", "a", "z"], ["a", "b", "c"], np.array([True, False, True]))
    assert split_buckets(pairs).tolist() == split_buckets(mirrored).tolist()
    many = Pairs([f"q{i}" for i in range(4000)], ["r"] * 4000, np.zeros(4000, bool))
    counts = np.bincount(split_buckets(many), minlength=4)
    assert counts.min() > 850  # roughly a quarter each


def test_eval_prints_metrics_per_threshold_and_auc(tmp_path, capsys):
    write_pairs(tmp_path / "p.jsonl.gz")
    assert cli.main(["eval", "--pairs", str(tmp_path / "p.jsonl.gz"), "--embedder", "hashing", "--limit", "400"]) == 0
    out = capsys.readouterr().out
    assert "pairs: 400  duplicates: 200" in out
    assert "threshold  precision  recall     FPR  hit rate" in out
    assert "0.900" in out and "ROC AUC: " in out
    auc = float(out.split("ROC AUC: ")[1].split()[0])
    assert 0.5 < auc <= 1.0


def test_eval_held_out_scores_only_the_test_bucket(tmp_path, capsys):
    write_pairs(tmp_path / "p.jsonl")
    expected = int((split_buckets(read_pairs(tmp_path / "p.jsonl")) == 3).sum())
    assert cli.main(["eval", "--pairs", str(tmp_path / "p.jsonl"), "--embedder", "hashing", "--held-out"]) == 0
    out = capsys.readouterr().out
    assert f"scoring the {expected} pairs of the held-out test bucket" in out and f"pairs: {expected} " in out


def test_eval_writes_a_png_or_says_matplotlib_is_missing(tmp_path, capsys, monkeypatch):
    write_pairs(tmp_path / "p.jsonl")
    png = tmp_path / "curve.png"
    args = ["eval", "--pairs", str(tmp_path / "p.jsonl"), "--embedder", "hashing", "--png", str(png)]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        pass
    else:
        assert cli.main(args) == 0
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        png.unlink()
    real_import = builtins.__import__

    def no_matplotlib(name, *a, **k):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib here")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    capsys.readouterr()
    assert cli.main(args) == 0
    assert "matplotlib is not installed" in capsys.readouterr().out
    assert not png.exists()


def test_eval_reports_bad_input_without_a_traceback(tmp_path, capsys):
    assert cli.main(["eval", "--pairs", str(tmp_path / "none.jsonl"), "--embedder", "hashing"]) == 2
    assert "error: no pairs file" in capsys.readouterr().err


def test_tune_recommends_a_cosine_threshold_from_held_out_data(tmp_path, capsys):
    write_pairs(tmp_path / "p.jsonl")
    assert cli.main(["tune", "--pairs", str(tmp_path / "p.jsonl"), "--embedder", "hashing", "--precision", "0.9"]) == 0
    out = capsys.readouterr().out
    assert "held-out test" in out
    assert "cosine threshold for precision 0.9" in out or "no threshold reaches precision 0.9" in out


def test_tune_fits_an_evaluator_that_eval_then_scores_on_held_out_pairs(tmp_path, capsys):
    pytest.importorskip("sklearn", reason="fitting the trees model needs scikit-learn")
    from dejacache._semantic.calibrated import CalibratedPairEvaluator

    write_pairs(tmp_path / "p.jsonl")
    model = tmp_path / "model.json"
    assert (
        cli.main(
            [
                "tune",
                "--pairs",
                str(tmp_path / "p.jsonl"),
                "--embedder",
                "hashing",
                "--fit",
                "--precision",
                "0.9",
                "--out",
                str(model),
                "--model",
                "trees",
                "--trees",
                "20",
                "--leaves",
                "4",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "calibrated evaluator" in out and f"wrote {model}" in out
    spec = json.loads(model.read_text())
    assert spec["embedder"].startswith("hashing") and spec["fitted_on"]["pairs"] > 0
    assert "How do I learn" not in model.read_text()  # coefficients only, no training text

    assert (
        cli.main(["eval", "--pairs", str(tmp_path / "p.jsonl"), "--embedder", "hashing", "--evaluator", str(model)])
        == 0
    )
    out = capsys.readouterr().out
    held_out = int(out.split("scoring the ")[1].split()[0])
    assert 0 < held_out < 480 and f"pairs: {held_out}" in out

    from dejacache.embedders import HashingEmbedder

    ev = CalibratedPairEvaluator(model)
    e = HashingEmbedder()
    same = ["How do I learn chess?", "How can I learn chess?"]
    different = ["How do I learn chess?", "How can I learn physics?"]
    (u1, v1), (u2, v2) = e.embed(same), e.embed(different)
    p_same = ev.evaluate(
        {"text": same[0], "embedding": u1}, {"text": same[1], "embedding": v1, "similarity": float(u1 @ v1)}
    )
    p_diff = ev.evaluate({"text": different[0], "embedding": u2}, {"text": different[1], "embedding": v2})
    assert 0.0 <= p_diff < p_same <= 1.0
    assert ev(
        {"text": same[0], "embedding": u1}, {"text": same[1], "embedding": v1, "similarity": float(u1 @ v1)}
    ) == pytest.approx(p_same)


def test_calibrated_evaluator_refuses_another_embedder_and_wrong_dimensions(tmp_path):
    from types import SimpleNamespace

    from dejacache._semantic.calibrated import CalibratedPairEvaluator

    write_pairs(tmp_path / "p.jsonl")
    model = tmp_path / "model.json"
    assert (
        cli.main(
            [
                "tune",
                "--pairs",
                str(tmp_path / "p.jsonl"),
                "--embedder",
                "hashing",
                "--fit",
                "--out",
                str(model),
                "--model",
                "logistic",
                "--l2",
                "10",
            ]
        )
        == 0
    )
    ev = CalibratedPairEvaluator(model)
    with pytest.raises(ValueError, match="fitted on hashing"):
        ev.bind(SimpleNamespace(embedder=SimpleNamespace(name="all-MiniLM-L6-v2")))
    ev.bind(SimpleNamespace(embedder=SimpleNamespace(name=ev.model.embedder)))
    with pytest.raises(ValueError, match="512-dimensional"):
        ev.score("a", "b", 0.5, np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="embedding"):
        ev.evaluate({"text": "a"}, {"text": "b", "similarity": 0.5})
    with pytest.raises(ValueError, match="format"):
        CalibratedPairEvaluator({"format": "something else"})


def test_trees_model_in_numpy_matches_scikit_learn():
    pytest.importorskip("sklearn")
    from dejacache._semantic.calibrated import PairModel
    from dejacache._semantic.fitting import build_trees
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    x = rng.random((3000, 4))
    y = x[:, 0] + x[:, 1] * x[:, 2] > 0.8
    model = build_trees(
        x,
        y,
        features=["cosine", "word_jaccard", "same_text", "length_ratio"],
        embedding_dim=0,
        embedder=None,
        trees=25,
        leaves=8,
    )
    reference = HistGradientBoostingClassifier(
        max_iter=25, max_leaf_nodes=8, learning_rate=0.1, l2_regularization=1.0, early_stopping=False, random_state=0
    ).fit(x, y)
    np.testing.assert_allclose(model.probability(x), reference.predict_proba(x)[:, 1], atol=1e-12)
    reloaded = PairModel.load(json.loads(json.dumps(model.to_dict())))
    np.testing.assert_array_equal(reloaded.probability(x), model.probability(x))
    bad = dict(model.to_dict(), left=[10**6] * len(model.to_dict()["left"]))
    with pytest.raises(ValueError, match="outside"):
        PairModel.load(bad)


def test_logistic_fit_recovers_a_known_separator():
    from dejacache._semantic.fitting import fit_logistic

    rng = np.random.default_rng(1)
    x = rng.normal(size=(4000, 2))
    y = rng.random(4000) < 1 / (1 + np.exp(-(2.0 * x[:, 0] - 1.0 * x[:, 1] + 0.5)))
    w, b = fit_logistic(x, y, l2=1e-6)
    np.testing.assert_allclose([*w, b], [2.0, -1.0, 0.5], atol=0.2)


def test_shipped_model_loads_without_training_text():
    from importlib.resources import files

    from dejacache import CalibratedPairEvaluator

    ev = CalibratedPairEvaluator()
    assert ev.model.embedder == "all-MiniLM-L6-v2" and ev.model.embedding_dim == 384
    assert 0.5 < ev.threshold < 1.0
    assert ev.model.spec["held_out"]["precision"] >= 0.95
    text = files("dejacache._models").joinpath("pair_minilm_l6.json").read_text()
    assert len(text) < 400_000 and "?" not in text  # numbers only: no question text shipped


def test_shipped_model_tells_a_paraphrase_from_a_near_miss():
    from dejacache.embedders import minilm_available

    if not minilm_available():
        pytest.skip("MiniLM weights/onnxruntime not installed")
    from dejacache import CalibratedPairEvaluator
    from dejacache.embedders import MiniLMEmbedder

    ev = CalibratedPairEvaluator()
    e = MiniLMEmbedder()

    def probability(a, b):
        u, v = e.embed([a, b])
        return ev.evaluate({"text": a, "embedding": u}, {"text": b, "embedding": v, "similarity": float(u @ v)})

    same = probability("How can I lose weight quickly?", "What is the fastest way to lose weight?")
    near_miss = probability(
        "Which is the best phone under 15000 rupees?", "Which is the best phone under 30000 rupees?"
    )
    unrelated = probability("How can I lose weight quickly?", "What is the capital of Australia?")
    assert same > near_miss and same > unrelated
    assert unrelated < 0.1
