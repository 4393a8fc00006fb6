"""Deciding one file: staged, or quarantined with a reason.

Only the shape the landing zone promises is checked: one JSON object with a positive integer id, in the right
folder, under the size limit. Fields of the wrong type and unknown fields pass unchanged: dbt staging types
and flags them. Pure functions of a file's bytes and name; the workers call them (stage.write).
"""

from __future__ import annotations

from typing import Any

import orjson

REASONS = ("invalid_json", "empty_file", "not_utf8", "not_an_object", "missing_id", "invalid_id",
           "oversized", "wrong_entity", "not_json_file", "unreadable")  # fmt: skip
# The largest real document is about 17 KB (a long-running series); 8 MiB is far above any of them and
# still small enough to parse in memory. DuckDB's reader allows objects up to 64 MiB.
MAX_DOC_BYTES = 8 * 1024 * 1024
MAX_ID = 2**63 - 1  # tmdb_id is a BIGINT in the warehouse

# Top-level keys only one of the two entities has: a document with several of the other entity's keys
# and none of its own is in the wrong folder.
# fmt: off
_OWN_KEYS = {
    "movies": frozenset({"title", "original_title", "release_date", "runtime", "imdb_id", "budget",
                         "revenue", "video", "belongs_to_collection", "tagline", "spoken_languages",
                         "production_countries"}),
    "series": frozenset({"name", "original_name", "first_air_date", "last_air_date", "number_of_seasons",
                         "number_of_episodes", "seasons", "networks", "episode_run_time", "in_production",
                         "created_by", "languages", "last_episode_to_air", "next_episode_to_air", "type"}),
}


def check_document(
    data: bytes, entity: str, name: str
) -> tuple[str | None, str | None, int | None, bytes | None]:
    """Decide one file: (reason, detail, tmdb_id, document bytes to stage). A reason means quarantine.

    Only the shape the landing zone promises is checked: one JSON object with a positive integer id, in
    the right folder. Fields of the wrong type and unknown fields pass unchanged: dbt staging types and
    flags them.
    """
    if not (name.endswith(".json") or name.lower().endswith(".json")):
        return "not_json_file", "the file name does not end in .json", None, None
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if not data.strip():
            return "empty_file", f"{len(data)} bytes of whitespace only" if data else "0 bytes", None, None
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as bad:
            return (
                "not_utf8",
                f"byte 0x{data[bad.start]:02x} at offset {bad.start} is not valid UTF-8",
                None,
                None,
            )
        return "invalid_json", str(exc)[:300], None, None
    if type(doc) is not dict:
        return "not_an_object", f"the top level is {_json_kind(doc)}, not an object", None, None
    if "id" not in doc:
        return "missing_id", 'the object has no "id"', None, None
    tmdb_id = doc["id"]
    if type(tmdb_id) is not int or not 0 < tmdb_id <= MAX_ID:
        return (
            "invalid_id",
            f"id is {_json_kind(tmdb_id)} {_short(tmdb_id)}, not a positive integer",
            None,
            None,
        )
    other = "series" if entity == "movies" else "movies"
    keys = doc.keys()
    if _OWN_KEYS[entity].isdisjoint(keys):
        foreign = sorted(_OWN_KEYS[other].intersection(keys))
        if len(foreign) >= 2:
            what = "a series" if other == "series" else "a movie"
            return "wrong_entity", f"looks like {what} ({', '.join(foreign[:4])}) in {entity}/", tmdb_id, None
    doc_bytes = data.strip() if data[:1].isspace() or data[-1:].isspace() else data
    if b"\n" in doc_bytes or b"\r" in doc_bytes:
        # JSON strings cannot hold raw line breaks, so every CR/LF here is whitespace between tokens.
        doc_bytes = doc_bytes.replace(b"\r", b" ").replace(b"\n", b" ")
    return None, None, tmdb_id, doc_bytes


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number with a fraction" if value != int(value) else "a decimal number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _short(value: Any) -> str:
    text = (
        orjson.dumps(value).decode() if not isinstance(value, int) or isinstance(value, bool) else str(value)
    )
    return text if len(text) <= 40 else text[:37] + "..."


def oversized_detail(size: int) -> str:
    return f"{size:,} bytes; the limit is {MAX_DOC_BYTES:,}"
