"""The feature contract of the ML mart: each column's role, as declared in its dbt YAML (`meta.ml_role`).

The trainer never chooses its inputs by name: it takes the columns declared `pre_release` (known before a
film is out). A column known only after release (`popularity`, `vote_count`, `vote_average`), the label,
ids and lineage can never reach the model: `check_features` refuses them, so a feature list edited by hand
fails before any training. The published Parquet set carries each relation's columns and types in its
manifest; `check_published_columns` compares them with the contract, so a mart that drifted from it (a
column renamed, dropped or added without a role) stops the run with the fix named.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from tmdb_pipeline.errors import UserError
from tmdb_pipeline.project import project

MART = "mart_ml__movie_features"
MODELS_FILE = Path("models/marts/_marts__models.yml")
ID, TIME, PRE_RELEASE, POST_RELEASE, LABEL, LINEAGE = (
    "id",
    "time",
    "pre_release",
    "post_release",
    "label",
    "lineage",
)
ROLES = (ID, TIME, PRE_RELEASE, POST_RELEASE, LABEL, LINEAGE)


class ContractError(UserError):
    """The ML mart and its contract disagree, or a feature list breaks the contract."""


class LeakageError(ContractError):
    """A column that is not a pre-release feature was about to reach the model."""


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    role: str
    categorical: bool = False


@dataclass(frozen=True)
class Contract:
    columns: tuple[Column, ...]

    def named(self, role: str) -> list[str]:
        return [c.name for c in self.columns if c.role == role]

    @property
    def features(self) -> list[str]:
        return self.named(PRE_RELEASE)

    @property
    def categorical(self) -> list[str]:
        return [c.name for c in self.columns if c.role == PRE_RELEASE and c.categorical]

    @property
    def label(self) -> str:
        return self._one(LABEL)

    @property
    def time(self) -> str:
        return self._one(TIME)

    @property
    def roles(self) -> dict[str, str]:
        return {c.name: c.role for c in self.columns}

    def _one(self, role: str) -> str:
        names = self.named(role)
        if len(names) != 1:
            raise ContractError(
                f"the {MART} contract declares {len(names)} columns with ml_role {role!r} ({names}); it needs"
                f" exactly one. Fix the column meta in {MODELS_FILE}."
            )
        return names[0]


def load_contract(models_file: Path | None = None) -> Contract:
    """The contract as the mart's YAML declares it; every column must name a known role."""
    path = models_file or project().root / MODELS_FILE
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ContractError(f"cannot read the ML feature contract in {path}: {error}") from None
    model = next((m for m in document.get("models", []) if m.get("name") == MART), None)
    if model is None:
        raise ContractError(f"{path} does not describe {MART}: the feature contract lives there.")
    columns, undeclared = [], []
    for entry in model.get("columns", []):
        meta = {**(entry.get("meta") or {}), **((entry.get("config") or {}).get("meta") or {})}
        role = meta.get("ml_role")
        if role not in ROLES:
            undeclared.append(f"{entry['name']} ({role!r})")
            continue
        columns.append(
            Column(entry["name"], str(entry.get("data_type", "")), role, bool(meta.get("ml_categorical")))
        )
    if undeclared:
        raise ContractError(
            f"columns of {MART} without a valid meta.ml_role ({', '.join(ROLES)}): {', '.join(undeclared)}."
            f" Declare each column's role in {path}."
        )
    return Contract(tuple(columns))


def check_features(features: Iterable[str], contract: Contract) -> list[str]:
    """The feature list, if every name in it is a pre-release feature of the contract; else LeakageError."""
    features = list(features)
    roles = contract.roles
    bad = [
        f"{name} ({roles.get(name, 'not in the contract')})"
        for name in features
        if roles.get(name) != PRE_RELEASE
    ]
    if bad:
        raise LeakageError(
            f"refusing to train: {', '.join(bad)} would reach the model, and only columns declared"
            f" ml_role: {PRE_RELEASE} may. A post-release column (known only after a film is out) or the"
            f" label would let the model learn the answer; take features from the contract ({MODELS_FILE})."
        )
    if not features:
        raise ContractError(f"the {MART} contract declares no {PRE_RELEASE} feature; nothing to train on.")
    return features


def check_published_columns(published: Mapping[str, str], contract: Contract, where: str) -> None:
    """The published mart's columns against the contract: same names, no column without a role."""
    declared = {c.name for c in contract.columns}
    missing = sorted(declared - set(published))
    extra = sorted(set(published) - declared)
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"not in the contract {', '.join(extra)}")
        raise ContractError(
            f"the published {MART} in {where} drifted from its feature contract ({'; '.join(parts)}). If the"
            f" published set predates this code, rebuild and publish it (`make run`, or `tmdb build` then"
            f" `tmdb publish`); if the mart changed, declare each column's ml_role in {MODELS_FILE}."
        )
