"""Can a learned evaluator over MiniLM-L6 reach precision 0.95 at recall 0.5 on QQP? Word-level
alignment features (each token's best match in the other text, from the model's last layer;
unmatched words; word-order inversions) beside the lexical and embedding features of
CalibratedPairEvaluator, gradient-boosted trees (scikit-learn), fitted on N pairs of QQP hash
buckets 0-1, threshold chosen on bucket 2 for precision 0.95, reported on bucket 3.

    python benches/semantic_token_alignment_qqp.py 20000      # ~4 min of embedding, then fits

Measured (notes/semantic.md): precision at recall 0.5 on bucket 3 is 0.77 for cosine, 0.84
lexical, 0.88 lexical+embedding, 0.85 lexical+alignment, 0.88 all: the alignment features add
nothing, and no feature set comes near 0.95.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
from dejacache._cli.accuracy import point_at, read_pairs, split_buckets, threshold_for_precision
from dejacache._semantic.pair_features import embedding_features, lexical_features
from dejacache.embedders._bert_onnx import build_bert_sentence_encoder
from dejacache.embedders._minilm import l6_model_dir
from dejacache.preprocess import normalize_text
from onnx import TensorProto, helper
from safetensors.numpy import load_file
from tokenizers import Tokenizer

folder = l6_model_dir()
cfg = json.loads((folder / "config.json").read_text())
mb = build_bert_sentence_encoder(load_file(str(folder / "model.safetensors")), num_heads=cfg["num_attention_heads"])
m = onnx.load_from_string(mb)
m.graph.output.append(helper.make_tensor_value_info("encoder.layer.5.x", TensorProto.FLOAT, ["batch", "seq", 384]))
opt = onnxruntime.SessionOptions()
opt.intra_op_num_threads = 2
sess = onnxruntime.InferenceSession(m.SerializeToString(), opt, providers=["CPUExecutionProvider"])
tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
tok.no_padding()
tok.enable_padding(pad_id=0, pad_token="[PAD]")
tok.enable_truncation(max_length=128)


def embed(texts):
    pooled = np.zeros((len(texts), 384), np.float32)
    toks = [None] * len(texts)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for s in range(0, len(order), 64):
        ch = order[s : s + 64]
        enc = tok.encode_batch([texts[i] for i in ch])
        ids = np.array([e.ids for e in enc], np.int64)
        mask = np.array([e.attention_mask for e in enc], np.int64)
        pv, tv = sess.run(["sentence_embedding", "encoder.layer.5.x"], {"input_ids": ids, "attention_mask": mask})
        for r, i in enumerate(ch):
            n = int(mask[r].sum())
            t = tv[r, 1 : n - 1] if n > 2 else tv[r, :n]
            t = t / np.linalg.norm(t, axis=1, keepdims=True)
            toks[i] = t.astype(np.float32)
        pooled[ch] = pv
    return pooled, toks


def align_feats(ta, tb):
    S = ta @ tb.T
    ma, mb_ = S.max(1), S.max(0)
    f = []
    for mm in (ma, mb_):
        f += [mm.min(), mm.mean(), np.quantile(mm, 0.1), (mm < 0.5).mean(), (mm < 0.7).mean(), (mm < 0.85).mean()]
    both = np.concatenate([ma, mb_])
    f += [both.min(), both.mean()]
    # order: positions of best matches of a's well-aligned tokens in b
    pos = S.argmax(1)[ma > 0.8]
    if len(pos) > 1:
        inv = sum(int(pos[i] > pos[j]) for i in range(len(pos)) for j in range(i + 1, len(pos)))
        f += [inv / (len(pos) * (len(pos) - 1) / 2)]
    else:
        f += [0.0]
    f += [len(ta), len(tb), abs(len(ta) - len(tb))]
    return f


pairs = read_pairs(Path(__file__).resolve().parents[2] / "shared" / "data" / "qqp_pairs_dev.jsonl.gz")
bk = split_buckets(pairs)
rng = np.random.default_rng(0)
sel = {
    "fit": rng.permutation(np.flatnonzero(np.isin(bk, (0, 1))))[: int(sys.argv[1]) if len(sys.argv) > 1 else 20000],
    "val": np.flatnonzero(bk == 2),
    "test": np.flatnonzero(bk == 3),
}
data = {}
for name, idx in sel.items():
    a = [normalize_text(pairs.a[i]) or pairs.a[i] for i in idx]
    b = [normalize_text(pairs.b[i]) or pairs.b[i] for i in idx]
    texts = sorted(set(a) | set(b))
    row = {t: i for i, t in enumerate(texts)}
    t0 = time.time()
    P, T = embed(texts)
    print(name, len(idx), "pairs", len(texts), "texts", round(time.time() - t0), "s", flush=True)
    ia = np.array([row[x] for x in a])
    ib = np.array([row[x] for x in b])
    cos = (P[ia] * P[ib]).sum(1)
    lex = np.array([lexical_features(x, y, float(c)) for x, y, c in zip(a, b, cos)])
    al = np.array([align_feats(T[i], T[j]) for i, j in zip(ia, ib)])
    emb = embedding_features(P[ia].astype(np.float64), P[ib].astype(np.float64))
    data[name] = (cos, lex, al, emb, pairs.duplicate[idx])
from sklearn.ensemble import HistGradientBoostingClassifier


def report(label, make):
    X = {k: make(v) for k, v in data.items()}
    clf = HistGradientBoostingClassifier(max_iter=400, learning_rate=0.05, max_leaf_nodes=31, random_state=0).fit(
        X["fit"], data["fit"][4]
    )
    pv = clf.predict_proba(X["val"])[:, 1]
    pt = clf.predict_proba(X["test"])[:, 1]
    t = threshold_for_precision(pv, data["val"][4], 0.95)
    yt = data["test"][4]
    # recall at precision 0.95 directly on test (oracle) and at val-chosen t
    order = np.argsort(-pt)
    tp = np.cumsum(yt[order])
    prec = tp / np.arange(1, len(yt) + 1)
    rec = tp / yt.sum()
    ok = prec >= 0.95
    r_oracle = rec[ok].max() if ok.any() else 0
    p_at_r5 = prec[np.searchsorted(rec, 0.5)]
    print(
        f"{label:28s} val-t {t}: {point_at(pt, yt, t) if t is not None else None}\n   oracle recall@P0.95 {r_oracle:.3f}   precision@R0.5 {p_at_r5:.3f}",
        flush=True,
    )


report("cosine only", lambda v: v[0][:, None])
report("lexical", lambda v: v[1])
report("lexical+emb", lambda v: np.hstack([v[1], v[3]]))
report("lexical+align", lambda v: np.hstack([v[1], v[2]]))
report("lexical+align+emb", lambda v: np.hstack([v[1], v[2], v[3]]))
