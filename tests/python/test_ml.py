"""The box-office model (tmdb_pipeline.ml, docs/ml.md): the feature contract keeps post-release columns out,
the time split has no overlap, the same published version gives the same model, a model that loses to the
mean baseline is not published, and each bad input is a clear error that leaves the published model alone.

The tests write a published set by hand (manifest + the ML mart as Parquet, with the columns of the real
contract), so they need no dbt build; the labels follow the budget and genres with noise."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

pytest.importorskip("sklearn", reason="the ml extra (make venv-ml)")

from _ml_helpers import CONTRACT, PUBLISH_VERSION, published_set
from tmdb_pipeline import ml
from tmdb_pipeline.errors import UserError
from tmdb_pipeline.ml import contract as contract_module
from tmdb_pipeline.ml import dataset, evaluation, publishing, training
from tmdb_pipeline.ml.contract import (
    ContractError,
    LeakageError,
    check_features,
    load_contract,
)
from tmdb_pipeline.workspace import DataRoot, Workspace

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    root = DataRoot(tmp_path / "data")
    return root.workspace(tmp_path / "data" / "folder-test")


def latest_files(workspace: Workspace) -> dict[str, bytes]:
    folder = workspace.ml_dir / "latest"
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}


# ---- the contract ----------------------------------------------------------------------------------------


def test_every_column_of_the_mart_declares_a_role_and_post_release_ones_are_no_features() -> None:
    roles = CONTRACT.roles
    assert {roles[c] for c in ("popularity", "vote_count", "vote_average")} == {"post_release"}
    assert roles["label_revenue_usd"] == "label" and roles["release_date"] == "time"
    assert {"title_key", "tmdb_id"} <= set(CONTRACT.named("id"))
    assert set(CONTRACT.features).isdisjoint(
        {"popularity", "vote_count", "vote_average", "label_revenue_usd"}
    )
    # the features the issue asks for are declared pre-release
    for name in ("has_homepage", "has_tagline", "overview_length", "title_length", "is_in_collection",
                 "release_weekday", "release_quarter", "is_budget_missing", "lead_company_id",
                 "lead_country_code", "company_count", "country_count", "language_count"):  # fmt: skip
        assert roles[name] == "pre_release", name
    # every column the SQL selects is declared (the dbt contract checks the same names and types)
    sql = (REPO_ROOT / "models/marts/mart_ml__movie_features.sql").read_text()
    # (the genre flags are named by a loop over TMDB's genres: is_genre_{{ genre }})
    assert [
        name for name in roles if name not in sql and f"'{name.removeprefix('is_genre_')}'" not in sql
    ] == []


@pytest.mark.parametrize(
    "planted", ["popularity", "vote_count", "vote_average", "label_revenue_usd", "tmdb_id"]
)
def test_a_column_that_is_not_a_pre_release_feature_in_the_feature_list_fails(planted: str) -> None:
    with pytest.raises(LeakageError, match=planted):
        check_features([*CONTRACT.features, planted], CONTRACT)
    assert check_features(CONTRACT.features, CONTRACT) == CONTRACT.features


def test_training_refuses_a_post_release_column_planted_in_the_contract_features(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    published_set(workspace.root)
    monkeypatch.setattr(
        contract_module.Contract,
        "features",
        property(lambda self: [*self.named("pre_release"), "vote_count"]),
    )
    with pytest.raises(LeakageError, match="vote_count"):
        ml.train(workspace, track=False)
    assert not workspace.ml_dir.exists()


def test_a_column_without_a_role_is_refused(tmp_path: Path) -> None:
    text = (REPO_ROOT / contract_module.MODELS_FILE).read_text()
    broken = tmp_path / "models.yml"
    broken.write_text(text.replace("ml_role: post_release", "ml_role: maybe", 1))
    with pytest.raises(ContractError, match="popularity"):
        load_contract(broken)


# ---- the split -------------------------------------------------------------------------------------------


def test_the_time_split_trains_on_earlier_releases_and_tests_on_the_latest_fifth(
    workspace: Workspace,
) -> None:
    published_set(workspace.root)
    data = dataset.load(workspace.publish_dir, CONTRACT)
    split = dataset.time_split(data.labelled, CONTRACT.time)
    assert split.train["release_date"].max() < split.test["release_date"].min()
    assert set(split.train["title_key"]).isdisjoint(split.test["title_key"])
    assert len(split.train) + len(split.test) == len(data.labelled)
    assert 0.17 <= len(split.test) / len(data.labelled) <= 0.23
    assert data.unlabelled["label_revenue_usd"].isna().all()


# ---- determinism, the report, tracking, publishing -------------------------------------------------------


def _without_times(card: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in card.items() if k not in ("version", "trained_at", "mlflow")}


def test_the_same_published_version_gives_the_same_model_and_figures(tmp_path: Path) -> None:
    cards, predictions = [], []
    for name in ("a", "b"):
        ws = DataRoot(tmp_path / name).workspace(tmp_path / name / "folder-test")
        published_set(ws.root)
        outcome = ml.train(ws, track=False)
        assert outcome.published is not None, outcome.not_published_because
        cards.append(_without_times(outcome.card))
        with duckdb.connect() as con:
            predictions.append(
                con.execute(
                    f"select * from read_parquet('{ws.ml_dir / 'latest' / publishing.PREDICTIONS}')"
                    " order by all"
                ).fetchall()
            )
    assert cards[0] == cards[1]
    assert predictions[0] == predictions[1]
    metrics = cards[0]["metrics"]
    assert set(metrics["models"]) == set(training.MODELS)
    for figures in metrics["models"].values():
        low, high = figures["rmsle_ci95"]
        assert low <= figures["rmsle"] <= high and figures["mae_log"] > 0
    # the budget carries the signal of these labels: the models are ordered as they should be
    gbm, mean = metrics["models"][training.GBM], metrics["models"][training.MEAN]
    assert gbm["rmsle"] < mean["rmsle"]
    assert {row["feature"] for row in metrics["importance"]} == set(CONTRACT.features)
    assert metrics["importance"][0]["feature"] in ("budget_usd", "is_genre_action")


def test_a_run_is_tracked_in_mlflow_and_the_published_model_registered(workspace: Workspace) -> None:
    import mlflow

    published_set(workspace.root)
    outcome = ml.train(workspace)
    assert outcome.published is not None
    tracked = outcome.card["mlflow"]
    mlflow.set_tracking_uri(f"sqlite:///{workspace.mlflow_dir / 'mlflow.db'}")
    run = mlflow.get_run(tracked["run_id"])
    assert run.data.tags["data_version"] == PUBLISH_VERSION
    assert run.data.tags["features"].split(",") == CONTRACT.features
    assert run.data.params["seed"] == str(training.SEED)
    assert (
        run.data.metrics["gradient_boosting.rmsle"]
        == outcome.card["metrics"]["models"]["gradient_boosting"]["rmsle"]
    )
    model = mlflow.sklearn.load_model(f"models:/{tracked['registered_model']}")
    card = json.loads((workspace.ml_dir / "latest" / "model_card.json").read_text())
    assert card["mlflow"] == tracked and card["data"]["version"] == PUBLISH_VERSION
    data = dataset.load(workspace.publish_dir, CONTRACT)
    split = dataset.time_split(data.labelled, CONTRACT.time)
    x = training.design(split.test, CONTRACT.features, CONTRACT.categorical)
    published = publishing.load_model(workspace.ml_dir / "latest" / publishing.MODEL_FILE)
    assert (model.predict(x) == published.predict(x)).all()


def test_a_model_that_loses_to_the_mean_baseline_is_not_published(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    published_set(workspace.root)
    first = ml.train(workspace, track=False)
    before = latest_files(workspace)
    assert first.published is not None and before
    real = evaluation.evaluate

    def losing(*args: Any, **kwargs: Any) -> dict[str, Any]:
        metrics = real(*args, **kwargs)
        models = metrics["models"]
        models[training.GBM]["rmsle"] = models[training.MEAN]["rmsle"] + 0.5
        return metrics

    monkeypatch.setattr(evaluation, "evaluate", losing)
    outcome = ml.train(workspace, track=False)
    assert outcome.published is None
    assert "does not beat the mean baseline" in outcome.not_published_because
    assert "NOT published" in outcome.line()
    assert latest_files(workspace) == before


def test_a_run_with_nothing_new_does_not_train_again_the_model_that_lost_on_this_version(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    published_set(workspace.root)
    real = evaluation.evaluate

    def losing(*args: Any, **kwargs: Any) -> dict[str, Any]:
        metrics = real(*args, **kwargs)
        metrics["models"][training.GBM]["rmsle"] = metrics["models"][training.MEAN]["rmsle"] + 0.5
        return metrics

    monkeypatch.setattr(evaluation, "evaluate", losing)
    lost = ml.train(workspace, track=False)
    assert lost.published is None and not latest_files(workspace)

    def no_training(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("trained again on a published version whose model already lost")

    monkeypatch.setattr(training, "fit", no_training)
    kept = ml.train(workspace, track=False, retrain=False)
    assert kept.card["version"] == lost.card["version"]
    assert "not trained again" in kept.not_published_because and "NOT published" in kept.line()
    with pytest.raises(AssertionError, match="trained again"):  # `tmdb ml`, and a run that published, train
        ml.train(workspace, track=False, retrain=True)


def test_a_synthetic_sample_model_says_it_describes_no_real_film(workspace: Workspace) -> None:
    published_set(workspace.root, kind="sample")
    outcome = ml.train(workspace, track=False)
    assert "describes no real film" in outcome.card["note"]
    assert outcome.card["data"]["synthetic"] is True and "no real film" in outcome.line()


def test_too_few_labelled_movies_train_no_model_and_say_so_in_one_line(workspace: Workspace) -> None:
    published_set(workspace.root, movies=300, labelled_share=0.3)
    outcome = ml.train(workspace, track=False)
    assert outcome.no_model_because.startswith("no model:") and "\n" not in outcome.line()
    assert not workspace.ml_dir.exists()


# ---- bad input: a clear error, and the published model stays ---------------------------------------------


@pytest.fixture
def trained(workspace: Workspace) -> Workspace:
    """A workspace with a published model (trained on PUBLISH_VERSION)."""
    published_set(workspace.root)
    assert ml.train(workspace, track=False).published is not None
    return workspace


def _replace_published(workspace: Workspace, **kwargs: Any) -> None:
    (workspace.publish_dir / "latest").unlink()
    published_set(workspace.root, version=kwargs.pop("version", "20270101T000000.000000Z"), **kwargs)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"drop": "has_tagline"}, "drifted from its feature contract .*missing has_tagline"),
        ({"add": "box_office_rank"}, "not in the contract box_office_rank"),
        ({"null_label": True}, "NULL in every one"),
        ({"version": "20250101T000000.000000Z"}, "older than the one the published model was trained on"),
    ],
)
def test_a_bad_published_set_is_a_clear_error_and_the_model_stays(
    trained: Workspace, change: dict[str, Any], expected: str
) -> None:
    before = latest_files(trained)
    _replace_published(trained, **change)
    with pytest.raises(UserError, match=expected):
        ml.train(trained, track=False)
    assert latest_files(trained) == before


def test_a_small_set_without_any_label_is_too_few_rows_not_an_error(workspace: Workspace) -> None:
    """A folder of a few movies, none with a revenue (a test set, a hostile sample): no model, said once,
    and the run it ends stays green."""
    published_set(workspace.root, movies=40, null_label=True)
    outcome = ml.train(workspace, track=False)
    assert outcome.published is None and "at least 300 are needed" in outcome.no_model_because


def test_a_missing_published_set_names_make_run(workspace: Workspace) -> None:
    with pytest.raises(dataset.DatasetError, match="make run"):
        ml.train(workspace, track=False)


def test_a_model_file_that_cannot_be_read_is_not_published(
    trained: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = latest_files(trained)
    _replace_published(trained)
    monkeypatch.setattr(publishing, "save_model", lambda model, path: path.write_bytes(b"not a model"))
    with pytest.raises(publishing.ModelPublishError, match="cannot be read"):
        ml.train(trained, track=False)
    assert latest_files(trained) == before
    assert not list(trained.ml_dir.glob(".tmp-*"))


def test_an_mlflow_store_that_refuses_writes_is_one_clear_error_and_the_model_stays(
    trained: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    """The fault campaign's read-only data folder: MLflow logged the whole traceback, then the run's summary
    quoted SQLAlchemy's statement and parameters."""
    from tmdb_pipeline.ml.tracking import TrackingError

    before = latest_files(trained)
    _replace_published(trained)
    trained.mlflow_dir.mkdir(parents=True)
    (trained.mlflow_dir / "mlflow.db").write_bytes(b"not a SQLite database, as a write cut short leaves one")
    with pytest.raises(TrackingError) as raised:
        ml.train(trained)
    said = str(raised.value)
    assert "DatabaseError: file is not a database" in said and "[SQL:" not in said, said
    assert "Traceback" not in caplog.text
    assert latest_files(trained) == before


def test_without_the_ml_extra_tmdb_ml_says_make_venv_ml(monkeypatch: pytest.MonkeyPatch) -> None:
    real = ml.importlib.util.find_spec
    monkeypatch.setattr(
        ml.importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a)
    )
    with pytest.raises(ml.MissingExtra, match="make venv-ml"):
        ml.require_extra()


def test_tmdb_ml_on_too_few_rows_prints_one_line_and_exits_0(tmp_path: Path) -> None:
    data_dir = tmp_path / "data" / "folder-few"
    published_set(data_dir, movies=200)
    env = {**os.environ, "TMDB_DATA_ROOT": str(tmp_path / "data"), "TMDB_DATA_DIR": str(data_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "tmdb_pipeline", "ml"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and "no model:" in lines[0]


def test_the_docs_figures_block_is_rendered_from_the_results_file() -> None:
    from tmdb_devtools import figures

    doc = (REPO_ROOT / "docs" / "ml.md").read_text()
    results = figures.load_results(REPO_ROOT)["ml-real-sample"]
    assert results is not None, "make ml-report REAL_SAMPLE=<folder> has not written its results"
    assert figures.ml_model(results) in doc
    assert dt.datetime.fromisoformat(results["trained_at"].replace("Z", "+00:00"))
