"""The documents of the built-in sample: TMDB-like movie and series objects, one at a time.

The documents copy the real files' shape: the same keys in the same order, compact one-line JSON with no
trailing newline, the same nesting, and the quirks measured on 7,411 real files (budget/revenue 0 for most
movies, empty release dates, null or 0 runtimes, empty imdb ids, "" or null homepages, empty lists, 0 votes,
null first air dates, ...) at about the real rates.

Every document comes from its own random generator seeded by (seed, entity, index), so the output does not
depend on how the work is split across processes: the same seed, size and version always give
byte-identical files. Version 2 is the same titles with some of them changed (popularity, votes, status,
seasons and episodes) plus a few new titles: a later snapshot of the same catalogue.

One module on purpose: a movie and a series are built field by field, in the real files' key order, from the
same small helpers (images, dates, titles, companies, people), and version 2 edits those same fields. Split,
following one document would mean jumping between files.
"""

from __future__ import annotations

import random
from base64 import b64encode
from datetime import date
from functools import cache
from typing import Any

from tmdb_pipeline.extract.sample.reference import (
    ADJECTIVES,
    B64_TO_B62,
    COMPANY_SUFFIXES,
    ENDINGS,
    FIRST_NAMES,
    HEX,
    LANGUAGES,
    LAST_DAY,
    LAST_NAMES,
    NETWORK_COUNTRIES,
    NETWORK_NAMES,
    NOUNS,
    OBJECTS,
    SUBJECTS,
    TAGLINES,
    TITLE_PATTERNS,
    VERBS,
    W_COMPANY_N,
    W_COUNTRIES,
    W_EPISODES,
    W_GENRE_N,
    W_MOVIE_GENRES,
    W_MOVIE_LANG,
    W_MOVIE_STATUS,
    W_RUN_TIMES,
    W_SEASONS,
    W_SERIES_LANG,
    W_SERIES_STATUS,
    W_SERIES_TYPES,
    W_SMALL_N,
    W_TV_GENRES,
    WORDS,
    Weighted,
)

Doc = dict[str, Any]


def _image(rng: random.Random, ext: str = ".jpg") -> str:
    """A TMDB image path: "/" + 27 letters and digits + extension."""
    return (
        "/" + b64encode(rng.getrandbits(168).to_bytes(21, "little"))[:27].decode().translate(B64_TO_B62) + ext
    )


def _maybe_image(rng: random.Random, p_null: float, ext: str = ".jpg") -> str | None:
    return None if rng.random() < p_null else _image(rng, ext)


def _day(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat()


def _year_start(rng: random.Random, mean_age: float) -> int:
    """A day in a plausible year: most titles are recent, a long tail reaches back to 1900."""
    year = max(1900, 2020 - int(rng.expovariate(1 / mean_age)))
    start = date(year, 1, 1).toordinal()
    return min(LAST_DAY, start + rng.randrange(366))


def _slug(title: str) -> str:
    return "".join(ch for ch in title.lower() if ch.isascii() and ch.isalnum())


def _title(rng: random.Random) -> str:
    pattern = TITLE_PATTERNS[rng.randrange(len(TITLE_PATTERNS))]
    return pattern.format(a=rng.choice(ADJECTIVES), n=rng.choice(NOUNS), n2=rng.choice(NOUNS))


def _native_title(rng: random.Random, language: str, title: str) -> str:
    """The original title: the English one for English titles, mostly a native-script one otherwise."""
    script = LANGUAGES.get(language, ("", 0, "latin"))[2]
    if language in ("en", "xx") or rng.random() < 0.35:
        return title
    words = WORDS[script]
    sep = "" if script in ("kana", "han") else " "
    text = sep.join(rng.choice(words) for _ in range(rng.randint(1, 3)))
    return text[0].upper() + text[1:] if script == "latin" else text


def _overview(rng: random.Random, p_empty: float) -> str:
    if rng.random() < p_empty:
        return ""
    text = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}."
    if rng.random() < 0.6:
        text += f" {rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}."
    ending = rng.choice(ENDINGS)
    return f"{text} {ending}" if ending else text


def _genres(rng: random.Random, weighted: Weighted, p_empty: float) -> list[Doc]:
    if rng.random() < p_empty:
        return []
    picked: list[tuple[int, str]] = []
    for _ in range(W_GENRE_N.pick(rng)):
        genre = weighted.pick(rng)
        if genre not in picked:
            picked.append(genre)
    return [{"id": gid, "name": name} for gid, name in picked]


@cache
def _company(company_id: int) -> Doc:
    rng = random.Random(company_id * 7919)
    country = "" if rng.random() < 0.48 else W_COUNTRIES.pick(rng)[0]
    name = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {rng.choice(COMPANY_SUFFIXES)}"
    return {
        "id": company_id,
        "logo_path": _maybe_image(rng, 0.6, ".png"),
        "name": name,
        "origin_country": country,
    }


def _companies(rng: random.Random, p_empty: float) -> list[Doc]:
    if rng.random() < p_empty:
        return []
    ids = dict.fromkeys(1 + int(rng.paretovariate(0.9) * 40) % 120_000 for _ in range(W_COMPANY_N.pick(rng)))
    return [_company(cid) for cid in ids]


@cache
def _network(index: int) -> Doc:
    rng = random.Random(index * 104729)
    if index < len(NETWORK_NAMES):
        name, country = NETWORK_NAMES[index], NETWORK_COUNTRIES[index]
    else:
        name, country = f"{rng.choice(NOUNS)} {rng.choice(['TV', 'Channel', 'One', 'Plus'])}", ""
        country = W_COUNTRIES.pick(rng)[0]
    return {
        "name": name,
        "id": 1 + index * 13,
        "logo_path": _maybe_image(rng, 0.2, ".png"),
        "origin_country": country,
    }


@cache
def _person(person_id: int) -> Doc:
    rng = random.Random(person_id * 15485863)
    person: Doc = {
        "id": person_id,
        "credit_id": "".join(rng.choices(HEX, k=24)),
        "name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
    }
    if rng.random() >= 0.05:  # about 1 in 20 real creators has no gender key at all
        person["gender"] = rng.choice([0, 0, 0, 2, 2, 1])
    person["profile_path"] = _maybe_image(rng, 0.5)
    return person


def _count(rng: random.Random, p_zero: float, median: float, sigma: float) -> int:
    return 0 if rng.random() < p_zero else 1 + int(rng.lognormvariate(0, sigma) * median)


def _vote_average(rng: random.Random, votes: int) -> float:
    return 0.0 if votes == 0 else round(min(10.0, max(0.5, rng.gauss(6.2, 1.4 + 3 / votes))), 1)


def _popularity(rng: random.Random, p_floor: float) -> float:
    """TMDB's popularity floor is 0.6; the real median is 1.6 for movies and 0.6 for series."""
    return 0.6 if rng.random() < p_floor else round(0.6 + rng.lognormvariate(0, 1.3), 3)


# ----------------------------------------------------------------------------------------------------
# Documents. Key order is the real files' order.


def _movie_homepage(rng: random.Random, title: str) -> str | None:
    roll = rng.random()
    return "" if roll < 0.855 else None if roll < 0.9 else f"http://www.{_slug(title)}.com/"


def _runtime(rng: random.Random) -> int | None:
    roll = rng.random()
    if roll < 0.013:
        return None
    if roll < 0.103:
        return 0
    return rng.randint(3, 40) if roll < 0.2 else max(41, min(320, int(rng.gauss(98, 20))))


def _countries(rng: random.Random, p_empty: float) -> list[Doc]:
    if rng.random() < p_empty:
        return []
    picked = dict(W_COUNTRIES.pick(rng) for _ in range(W_SMALL_N.pick(rng)))
    return [{"iso_3166_1": code, "name": name} for code, name in picked.items()]


def _spoken_languages(rng: random.Random, language: str, p_empty: float) -> list[Doc]:
    if rng.random() < p_empty:
        return []
    codes = dict.fromkeys([language] + [W_MOVIE_LANG.pick(rng) for _ in range(W_SMALL_N.pick(rng) - 1)])
    return [{"iso_639_1": code, "name": LANGUAGES[code][0]} for code in codes]


def _creators(rng: random.Random, p_empty: float) -> list[Doc]:
    if rng.random() < p_empty:
        return []
    return [_person(rng.randrange(1, 2_000_000)) for _ in range(W_SMALL_N.pick(rng))]


def _run_times(rng: random.Random, p_empty: float) -> list[int]:
    if rng.random() < p_empty:
        return []
    return sorted({W_RUN_TIMES.pick(rng) for _ in range(1 if rng.random() < 0.9 else 2)}, reverse=True)


def _networks(rng: random.Random, p_empty: float) -> list[Doc]:
    if rng.random() < p_empty:
        return []
    indexes = dict.fromkeys(min(int(rng.paretovariate(0.7)) - 1, 299) for _ in range(W_SMALL_N.pick(rng)))
    return [_network(index) for index in indexes]


def movie_id(index: int) -> int:
    return index + 1 + index // 2  # sparse and unique, like real ids (about 1.5 ids per movie)


def series_id(index: int) -> int:
    return index + 1 + index // 9


def _rng(seed: int, entity: int, index: int, salt: int = 0) -> random.Random:
    return random.Random((seed << 48) ^ (salt << 44) ^ (entity << 40) ^ index)


def make_movie(seed: int, index: int) -> Doc:
    rng = _rng(seed, 0, index)
    language = W_MOVIE_LANG.pick(rng)
    title = _title(rng)
    votes = _count(rng, 0.22, 12, 1.9)
    collection = None
    if rng.random() < 0.07:
        cid = 10_000 + (index // 3) * 7
        crng = random.Random(cid)
        collection = {
            "id": cid,
            "name": f"{rng.choice(NOUNS)} Collection",
            "poster_path": _maybe_image(crng, 0.2),
            "backdrop_path": _maybe_image(crng, 0.3),
        }
    budget = 0 if rng.random() < 0.887 else int(rng.lognormvariate(15.5, 1.4)) // 1000 * 1000 + 1000
    return {
        "adult": False,
        "backdrop_path": _maybe_image(rng, 0.66),
        "belongs_to_collection": collection,
        "budget": budget,
        "genres": _genres(rng, W_MOVIE_GENRES, 0.14),
        "homepage": _movie_homepage(rng, title),
        "id": movie_id(index),
        "imdb_id": "" if rng.random() < 0.09 else f"tt{rng.randrange(1, 12_000_000):07d}",
        "original_language": language,
        "original_title": _native_title(rng, language, title),
        "overview": _overview(rng, 0.055),
        "popularity": _popularity(rng, 0.05),
        "poster_path": _maybe_image(rng, 0.36),
        "production_companies": _companies(rng, 0.41),
        "production_countries": _countries(rng, 0.27),
        "release_date": "" if rng.random() < 0.024 else _day(_year_start(rng, 22)),
        "revenue": 0 if rng.random() < 0.909 else int(rng.lognormvariate(16, 1.8)),
        "runtime": _runtime(rng),
        "spoken_languages": _spoken_languages(rng, language, 0.17),
        "status": W_MOVIE_STATUS.pick(rng),
        "tagline": "" if rng.random() < 0.72 else rng.choice(TAGLINES),
        "title": title,
        "video": rng.random() < 0.019,
        "vote_average": _vote_average(rng, votes),
        "vote_count": votes,
    }


def _episode(rng: random.Random, show_id: int, season: int, number: int, air_day: int) -> Doc:
    votes = _count(rng, 0.85, 2, 1.0)
    return {
        "air_date": _day(air_day),
        "episode_number": number,
        "id": 1_000 + show_id * 20_000 + season * 500 + number,
        "name": f"Episode {number}" if rng.random() < 0.5 else _title(rng),
        "overview": _overview(rng, 0.7),
        "production_code": "" if rng.random() < 0.9 else f"{rng.randint(100, 999)}",
        "season_number": season,
        "show_id": show_id,
        "still_path": _maybe_image(rng, 0.86),
        "vote_average": _vote_average(rng, votes),
        "vote_count": votes,
    }


def _season(rng: random.Random, show_id: int, number: int, episodes: int, air_day: int | None) -> Doc:
    return {
        "air_date": None if air_day is None else _day(air_day),
        "episode_count": episodes,
        "id": 100_000 + show_id * 50 + number,
        "name": "Specials" if number == 0 else f"Season {number}",
        "overview": _overview(rng, 0.85),
        "poster_path": _maybe_image(rng, 0.4),
        "season_number": number,
    }


def make_series(seed: int, index: int) -> Doc:
    rng = _rng(seed, 1, index)
    sid = series_id(index)
    language = W_SERIES_LANG.pick(rng)
    name = _title(rng)
    status, in_production = W_SERIES_STATUS.pick(rng)
    n_seasons = 0 if rng.random() < 0.04 else min(40, W_SEASONS.pick(rng))
    # real mix: both air dates 87%, neither 8.6%, only the last 2.7%, only the first 1.7%
    dates_roll = rng.random()
    first: int | None = None
    last: int | None = None
    if dates_roll < 0.87 or dates_roll >= 0.956:
        start = _year_start(rng, 9)
        span = rng.randint(0, 60) if n_seasons <= 1 else rng.randint(200, 400) * n_seasons
        end = max(start, min(LAST_DAY - 60, start + span))
        first = start if dates_roll < 0.87 or dates_roll >= 0.983 else None
        last = end if dates_roll < 0.983 else None

    seasons: list[Doc] = []
    if n_seasons:
        if rng.random() < 0.03:
            seasons.append(_season(rng, sid, 0, rng.randint(1, 6), None))
        for number in range(1, n_seasons + 1):
            air = None if first is None or rng.random() < 0.1 else first + (number - 1) * 365
            seasons.append(_season(rng, sid, number, W_EPISODES.pick(rng), air))
    episodes = sum(s["episode_count"] for s in seasons if s["season_number"] > 0)
    if episodes and rng.random() < 0.01:
        episodes = 0  # real data has series with seasons listed and number_of_episodes 0
    last_episode = None
    if last is not None:
        last_episode = _episode(
            rng, sid, max(1, n_seasons), max(1, seasons[-1]["episode_count"] if seasons else 1), last
        )
    next_episode = None
    if in_production and last is not None and rng.random() < 0.03:
        next_episode = _episode(
            rng,
            sid,
            max(1, n_seasons),
            (last_episode or {}).get("episode_number", 0) + 1,
            min(LAST_DAY, last + 7),
        )
    votes = _count(rng, 0.81, 3, 1.5)
    homepage = "" if rng.random() < 0.75 else f"https://www.{_slug(name)}.tv/"
    return {
        "backdrop_path": _maybe_image(rng, 0.63),
        "created_by": _creators(rng, 0.79),
        "episode_run_time": _run_times(rng, 0.63),
        "first_air_date": None if first is None else _day(first),
        "genres": _genres(rng, W_TV_GENRES, 0.5),
        "homepage": homepage,
        "id": sid,
        "in_production": in_production,
        "languages": [] if rng.random() < 0.41 else [language],
        "last_air_date": None if last is None else _day(last),
        "last_episode_to_air": last_episode,
        "name": name,
        "next_episode_to_air": next_episode,
        "networks": _networks(rng, 0.5),
        "number_of_episodes": episodes,
        "number_of_seasons": n_seasons,
        "origin_country": [] if rng.random() < 0.5 else [W_COUNTRIES.pick(rng)[0]],
        "original_language": language,
        "original_name": _native_title(rng, language, name),
        "overview": _overview(rng, 0.47),
        "popularity": _popularity(rng, 0.55),
        "poster_path": _maybe_image(rng, 0.35),
        "production_companies": _companies(rng, 0.7),
        "seasons": seasons,
        "status": status,
        "type": W_SERIES_TYPES.pick(rng),
        "vote_average": _vote_average(rng, votes),
        "vote_count": votes,
    }


# ----------------------------------------------------------------------------------------------------
# Version 2: a later snapshot of the same catalogue.


def _v2_movie(doc: Doc, seed: int, index: int) -> Doc:
    rng = _rng(seed, 0, index, salt=2)
    if rng.random() >= 0.05:
        return doc
    doc["popularity"] = round(doc["popularity"] * rng.uniform(0.5, 3.0) + 0.1, 3)
    doc["vote_count"] += rng.randint(1, 40)
    doc["vote_average"] = _vote_average(rng, doc["vote_count"])
    if doc["status"] != "Released" and rng.random() < 0.5:
        doc["status"] = "Released"
    return doc


def _v2_series(doc: Doc, seed: int, index: int) -> Doc:
    rng = _rng(seed, 1, index, salt=2)
    if rng.random() >= 0.12:
        return doc
    doc["popularity"] = round(doc["popularity"] * rng.uniform(0.5, 3.0) + 0.1, 3)
    doc["vote_count"] += rng.randint(1, 10)
    doc["vote_average"] = _vote_average(rng, doc["vote_count"])
    roll = rng.random()
    if doc["in_production"] and roll < 0.4:  # the show ended
        doc["status"], doc["in_production"], doc["next_episode_to_air"] = "Ended", False, None
    elif doc["in_production"] and doc["last_air_date"] and roll < 0.8:  # a new season aired
        sid, number = doc["id"], doc["number_of_seasons"] + 1
        episodes = W_EPISODES.pick(rng)
        start = max(date.fromisoformat(doc["last_air_date"]).toordinal() + 30, date(2020, 1, 1).toordinal())
        start = min(start, LAST_DAY - 1)
        end = min(LAST_DAY, start + 7 * episodes)
        doc["seasons"].append(_season(rng, sid, number, episodes, start))
        doc["number_of_seasons"] = number
        doc["number_of_episodes"] += episodes
        doc["last_air_date"] = _day(end)
        doc["last_episode_to_air"] = _episode(rng, sid, number, episodes, end)
        doc["status"] = "Returning Series"
    return doc


def make_doc(entity: str, seed: int, index: int, version: int, base_count: int) -> Doc:
    movie = entity == "movies"
    doc = make_movie(seed, index) if movie else make_series(seed, index)
    if version >= 2 and index < base_count:
        doc = _v2_movie(doc, seed, index) if movie else _v2_series(doc, seed, index)
    return doc
