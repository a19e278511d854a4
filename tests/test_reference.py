"""The reference experiment's driver on a tiny spec: every part writes its small files, a second run
does nothing, a stopped run resumes, and every committed metric is recomputed from the committed
predictions (for the repository's own results folder too, where one exists)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import one_thread

from gdrt import reference as R
from gdrt.evaluation import score_predictions

REPO = Path(__file__).resolve().parents[1]


def _spec(tmp_path, synth_dir, tiny_model_path, **kw):
    d = dict(name="tiny", train=dict(data_dir=str(synth_dir), dataset="synthetic", model=tiny_model_path,
                                     adapter="lora", train_split="train", valid_split="valid", n_train=16, n_valid=4,
                                     epochs=1.0, batch_size=8, lr=1e-2, eval_steps=1, num_beams=3, save_steps=1),
             methods={"sft": {"method": "sft"}, "gdrt": {"method": "gdrt", "n_groups": 2, "tau": 1.0}},
             seeds=[0], test_split="test", n_test=6, n_attr=2, attr_tokens=3, num_beams=3,
             results_dir=str(tmp_path / "results"), runs_root=str(tmp_path / "runs"))
    d.update(kw)
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(d), encoding="utf-8")
    return R.ReferenceSpec.from_json(path)


def _item_groups(results: Path) -> dict[int, int]:
    data = json.loads((results / "item_groups.json").read_text(encoding="utf-8"))
    return {int(k): v[0] for k, v in data["title"].items()}


def _check_metrics(results: Path) -> int:
    """Recompute every part's metrics.json from its predictions.jsonl and the committed item groups."""
    groups = _item_groups(results)
    done = json.loads((results / "manifest.json").read_text(encoding="utf-8"))["done"]
    checked = 0
    for metrics_path in sorted(results / part / "metrics.json" for part in done if (results / part / "metrics.json").exists()):
        preds = [json.loads(line) for line in (metrics_path.parent / "predictions.jsonl").read_text().splitlines()]
        stored = json.loads(metrics_path.read_text(encoding="utf-8"))
        again = score_predictions(preds, groups)
        assert again.keys() == stored.keys(), metrics_path
        for key, value in stored.items():
            assert again[key] == pytest.approx(value, abs=1e-12), (metrics_path, key)
        checked += 1
    return checked


def test_the_driver_runs_every_part_once_and_resumes(tmp_path, synth_dir, tiny_model_path, capsys):
    spec = _spec(tmp_path, synth_dir, tiny_model_path)
    results = tmp_path / "results"
    with one_thread():
        R.Reference(spec, progress=False).run(only=["base", "seed0-sft"])
    man = json.loads((results / "manifest.json").read_text())
    assert man["done"] == ["base", "seed0-sft"] and man["machine"]["cpu_model"]
    for name in ("predictions.jsonl", "metrics.json", "attribution-token.json", "attribution-feature.json",
                 "validation/valid-4-seed0.jsonl"):
        assert (results / "base" / name).exists(), name
    part = results / "seed0-sft"
    for name in ("config.json", "final.json", "train_log.json", "predictions.jsonl", "metrics.json",
                 "attribution-token.json", "attribution-feature.json"):
        assert (part / name).exists(), name
    assert sorted(p.name for p in (part / "validation").glob("*.jsonl")) == ["step-000001.jsonl", "step-000002.jsonl"]
    pred = json.loads((part / "predictions.jsonl").read_text().splitlines()[0])
    assert set(pred) == {"row", "user_id", "target", "history", "item_ids", "scores"}  # no prompt, no titles
    token = json.loads((part / "attribution-token.json").read_text())
    assert len(token["rows"]) == 2 and all(len(r["interaction_tokens"]) <= 3 for r in token["rows"])

    before = {p: p.stat().st_mtime_ns for p in results.rglob("*") if p.is_file()}
    with one_thread():
        R.Reference(spec, progress=False).run(only=["base", "seed0-sft"])
    assert "seed0-sft is done" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in results.rglob("*") if p.is_file()} == before  # nothing redone

    # a part stopped after training (its results folder half written) finishes on the next run
    with one_thread():
        R.Reference(spec, progress=False).run(only=["seed0-gdrt"])
    (results / "seed0-gdrt" / "predictions.jsonl").unlink()
    man = json.loads((results / "manifest.json").read_text())
    man["done"].remove("seed0-gdrt")
    (results / "manifest.json").write_text(json.dumps(man))
    with one_thread():
        R.Reference(spec, progress=False).run(only=["seed0-gdrt"])
    assert (results / "seed0-gdrt" / "predictions.jsonl").exists()
    assert json.loads((results / "seed0-gdrt" / "grouping.json").read_text())["n_groups"] == 2
    assert _check_metrics(results) == 3


def test_a_bad_spec_is_one_line(tmp_path, synth_dir, tiny_model_path):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"name": "x", "train": {"data_dir": str(synth_dir)}, "methods": {"sft": {}},
                                "seeds": [0], "n_test": 0}), encoding="utf-8")
    with pytest.raises(ValueError, match="n_test must be an integer >= 1"):
        R.ReferenceSpec.from_json(path)
    path.write_text(json.dumps({"name": "x", "train": {"data_dir": str(synth_dir), "lr": -1}, "methods": {"sft": {}}}))
    with pytest.raises(ValueError, match="lr must be > 0"):
        R.ReferenceSpec.from_json(path)
    path.write_text(json.dumps({"name": "x", "train": {}, "methods": {}, "colour": 1}))
    with pytest.raises(ValueError, match="unknown spec key"):
        R.ReferenceSpec.from_json(path)


def test_committed_reference_metrics_recompute_from_committed_predictions():
    """The repository's own results: every metrics.json equals the metrics of its predictions."""
    roots = [p.parent for p in (REPO / "results" / "reference").glob("*/manifest.json")]
    checked = sum(_check_metrics(r) for r in roots)
    if not checked:
        pytest.skip("no finished part of a reference experiment is committed yet")


# ------------------------------------------------------------------------------ the analysis
def test_replication_reads_the_results_and_agrees_with_the_metrics(tmp_path, synth_dir, tiny_model_path):
    from gdrt import replication as P

    spec = _spec(tmp_path, synth_dir, tiny_model_path, pilot={"n_train": 24})
    with one_thread():
        R.Reference(spec, progress=False).run(pilot=True)
    res = P.ReferenceResults.load(tmp_path / "results")
    assert res.methods == ["gdrt", "sft"] and res.seeds() == [0] and res.base is not None
    table = P.metric_table(res, n_boot=50).set_index(["model", "metric"])
    for model, part in (("base", res.base), ("sft", res.runs["sft"][0])):
        for label, key in (("NDCG@10", "ndcg@10"), ("HIT@5", "hit@5"), ("MGU@5", "mgu@5"), ("DGU@10", "dgu@10")):
            assert table.loc[(model, label), "value"] == pytest.approx(part.metrics[key], abs=1e-12), (model, label)
        assert table.loc[(model, "top-1 group-1 share"), "value"] == pytest.approx(part.metrics["top1_group_share"][0])
    pt = P.paired(res, "sft", "gdrt", n_boot=50)
    assert pt.loc["MGU@5", "difference"] == pytest.approx(res.runs["gdrt"][0].metrics["mgu@5"]
                                                          - res.runs["sft"][0].metrics["mgu@5"])
    assert (pt["lo"] <= pt["difference"] + 1e-12).all() and (pt["difference"] <= pt["hi"] + 1e-12).all()
    att = P.attribution_table(res, "token", n_boot=50)
    assert list(att.index) == ["base", "sft", "gdrt"] and att["rows"].eq(2).all()  # the spec's order
    tr = P.trace(res, "sft")
    assert list(tr["step"]) == [0, 1, 2]  # the base model at step 0, then each validation
    c = P.claims(res, n_boot=50, cooccurrence=res.cooccurrence())
    assert {"SFT raises task : interaction attribution", "GDRT lowers MGU@5", "GDRT raises NDCG@10"} <= set(c["claim"])
    assert set(c["verdict"]) <= {P.REPLICATES, P.NOT, P.CANNOT} and len(c) == 12
    assert all(P.claim_sentence(r).startswith(r["claim"]) for _, r in c.iterrows())
    # the sizing arithmetic, the pilot, the paper table, the measured reasons
    size = P.sizing(res)
    assert size.loc["training rows per run", "value"] == 16 and size.loc["trained runs", "value"] == 2
    assert size.loc["optimizer steps per run", "value"] == 2
    pilot = P.pilot_numbers(res)
    assert pilot["pilot_n_train"] == 24 and pilot["pilot_steps"] == 3 and pilot["pilot_ref_steps"] == 2
    assert pilot["pilot_at_step"] == 2 and list(P.pilot_trace(res)["step"]) == [0, 1, 2, 3]
    t2 = P.table2(res, {"Synthetic": {"SFT": {"ndcg@10": 0.5}, "GDRT": {"ndcg@10": 0.6}}})
    assert t2.loc["NDCG@10", "paper SFT"] == 0.5 and t2.loc["NDCG@10", "ours SFT"] == pytest.approx(
        res.runs["sft"][0].metrics["ndcg@10"])
    why = P.diagnosis(res)
    assert 0.5 <= why["gdrt_max_q"] <= 1 and why["gdrt_n_groups"] == 2 and 0 <= why["target_g1"] <= 1
    gap = P.trace_pivot(pd.concat([P.trace(res, m) for m in ("sft", "gdrt")]), "sft", "gdrt")
    assert list(gap.index) == [0, 1, 2] and gap.loc[0, "gdrt - sft"] == 0  # step 0: the same base model
    assert P.describe(res)["ref_seeds_sft"] == 1


def test_a_started_experiment_with_nothing_finished_reads_as_all_unknown(tmp_path, synth_dir, tiny_model_path):
    """The driver writes the manifest when it starts, so a results folder whose parts are all still
    running loads: every table has its columns, with NaN values, and every verdict is 'cannot tell'."""
    from gdrt import replication as P

    spec = _spec(tmp_path, synth_dir, tiny_model_path)
    R.Reference(spec, progress=False)._record()
    results = tmp_path / "results"
    assert json.loads((results / "manifest.json").read_text())["done"] == []
    groups = {str(i): [1 + i % 2, 0.5] for i in range(1, 5)}
    (results / "item_groups.json").write_text(json.dumps({"title": groups, "response": groups}))
    res = P.ReferenceResults.load(results)
    assert res.base is None and res.runs == {} and P.describe(res)["ref_seeds_sft"] == 0
    mt = P.metric_table(res, n_boot=10)
    assert {"value", "lo", "hi", "seed min"} <= set(mt.columns) and mt["value"].isna().all()
    shares = P.group_share_table(res, ("base", "sft"))
    assert shares[["group 1", "group 2"]].isna().all().all()
    assert P.table2(res, {})["ours SFT"].isna().all()
    c = P.claims(res, n_boot=10, cooccurrence=res.cooccurrence())
    assert set(c["verdict"]) == {P.PENDING} and len(c) == 12
    assert all("not measured yet" in P.claim_sentence(r) for _, r in c.iterrows())


def test_group_crosstab_counts_the_items_that_change_group():
    from gdrt import replication as P
    from gdrt.book import group_crosstab

    tab = group_crosstab({1: 1, 2: 1, 3: 2, 4: 2}, {1: 1, 2: 2, 3: 1, 4: 2})
    assert tab.loc["all", "all"] == 4 and P.off_diagonal(tab) == 2


def test_bootstrap_metrics_on_a_hand_made_example():
    from gdrt import replication as P

    groups = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 1}
    preds = [{"target": 1, "history": [1, 2], "item_ids": [[1], [3]]},
             {"target": 5, "history": [3, 6], "item_ids": [[6], [5]]}]
    a = P.row_amounts(preds, groups, 2)
    w = np.array([[1.0, 1.0], [2.0, 0.0]])  # the sample, then row 0 twice
    # NDCG@2: row 0 hit at rank 0 (gain 1), row 1 at rank 1 (gain 1/log2 3)
    np.testing.assert_allclose(P.metric_values(a, w, "ndcg"), [(1 + 1 / np.log2(3)) / 2, 1.0])
    # group 1 among the top-2 entries: row 0 one of two, row 1 one of two (item 6)
    np.testing.assert_allclose(P.metric_values(a, w, "g1"), [0.5, 0.5])
    # GP = (2, 0, 1, 0, 1)/4, GH = (2, 1, 1, 0, 0)/4 -> GU = (0, -1/4, 0, 0, 1/4): MGU 0.1, DGU 0.5
    np.testing.assert_allclose(P.metric_values(a, w, "mgu")[0], 0.1)
    np.testing.assert_allclose(P.metric_values(a, w, "dgu")[0], 0.5)
    assert P.verdict(0.1, 0.3, +1) == P.REPLICATES and P.verdict(0.1, 0.3, -1) == P.NOT
    assert P.verdict(-0.1, 0.3, -1) == P.CANNOT and P.verdict(float("nan"), 1, 1) == P.CANNOT


def test_the_command_line_gives_one_line_for_a_bad_spec(tmp_path, capsys):
    from gdrt.cli import main

    assert main(["reference", "--spec", str(tmp_path / "missing.json")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "missing.json" in err and "spec file not found" in err
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x", "train": {}, "methods": {"sft": {}}, "seeds": [0], "n_attr": -1}', encoding="utf-8")
    assert main(["reference", "--spec", str(bad)]) == 1
    assert "n_attr must be an integer >= 1" in capsys.readouterr().err


def _bump(path, n):
    for _ in range(n):
        R.update_json(Path(path), lambda d: d.__setitem__("n", d.get("n", 0) + 1))


def test_parts_in_several_processes_do_not_lose_each_others_updates(tmp_path):
    import multiprocessing as mp

    path = tmp_path / "timing.json"
    procs = [mp.get_context("fork").Process(target=_bump, args=(str(path), 40)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert json.loads(path.read_text())["n"] == 120
