import argparse

from dejacache import evaluation
from dejacache._cli.bench_semantic import make_intents, run_semantic
from semantic_helpers import WordEmbedder


def test_intents_are_distinct_and_paraphrased():
    intents = make_intents(1)
    assert len({w for ws in intents for w in ws}) == sum(len(ws) for ws in intents)
    assert all(len(ws) == 4 for ws in intents)


def test_semantic_workload_reports_hits_and_precision(tmp_path):
    args = argparse.Namespace(requests=300, zipf=1.1, seed=3, threshold=0.99)
    report = run_semantic(args, embedder=WordEmbedder(), evaluator=evaluation.Cosine())
    assert report["llm_calls"] + report["exact_hits"] + report["semantic_hits"] == 300
    assert report["exact_hits"] > 0
    assert report["semantic_hits"] > 0
    # The word embedder maps stop-word-only rewordings together, never other topics.
    assert report["semantic_precision"] == 1.0
    assert 0 < report["semantic_recall"] <= 1
    loose = run_semantic(
        argparse.Namespace(requests=300, zipf=1.1, seed=3, threshold=0.3),
        embedder=WordEmbedder(),
        evaluator=evaluation.Cosine(),
    )
    assert loose["semantic_wrong"] > 0 and loose["wrong_examples"]


def test_cli_semantic_workload_writes_a_report(tmp_path, capsys):
    import orjson
    from dejacache.cli import main

    out = tmp_path / "r.json"
    assert (
        main(["bench", "--workload", "semantic", "--embedder", "hashing", "--requests", "150", "--report", str(out)])
        == 0
    )
    report = orjson.loads(out.read_bytes())
    assert report["workload"]["kind"] == "semantic" and report["workload"]["requests"] == 150
    assert report["semantic_wrong"] == 0
    assert "semantic precision" in capsys.readouterr().out
