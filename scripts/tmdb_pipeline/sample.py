"""A deterministic, offline stand-in for the Kaggle dataset: TMDB-like movie and series documents.

The documents copy the real files' shape: the same keys in the same order, compact one-line JSON with
no trailing newline, the same nesting, and the quirks measured on 7,411 real files (budget/revenue 0 for
most movies, empty release dates, null or 0 runtimes, empty imdb ids, "" or null homepages, empty lists,
0 votes, null first air dates, ...) at about the real rates.

Every document comes from its own random generator seeded by (seed, entity, index), so the output does
not depend on how the work is split across processes: the same seed, size and version always give
byte-identical files. Version 2 is the same titles with some of them changed (popularity, votes,
status, seasons and episodes) plus a few new titles: a later snapshot of the same catalogue.

    python -m tmdb_pipeline.sample --out DIR [--size N|full] [--seed 42] [--version 1|2]
    python -m tmdb_pipeline.sample --kagglehub-cache DIR ...   # what kagglehub.dataset_download finds
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import time
from base64 import b64encode
from bisect import bisect
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date
from functools import cache
from itertools import accumulate
from pathlib import Path
from typing import Any

import orjson

from tmdb_pipeline import KAGGLE_HANDLE
from tmdb_pipeline.errors import UserError

# Bump when the documents generated for the same parameters change, so cached samples are regenerated.
GENERATOR_VERSION = 1
FULL_MOVIES, FULL_SERIES = 526_000, 94_000
DEFAULT_MOVIES, DEFAULT_SERIES = 2_000, 500
DEFAULT_SEED = 42
PARAMS_FILE = "SAMPLE.json"  # beside movies/ and series/ in the version folder; staging never reads it
_CHUNK = 5_000  # indices per task when generating in parallel

Doc = dict[str, Any]


@dataclass(frozen=True)
class SampleSpec:
    movies: int = DEFAULT_MOVIES
    series: int = DEFAULT_SERIES
    seed: int = DEFAULT_SEED
    version: int = 1

    def label(self) -> str:
        extra = "" if self.version == 1 else f", version {self.version}"
        return f"built-in sample ({self.movies:,} movies + {self.series:,} series, seed {self.seed}{extra})"


def parse_size(size: str | int) -> tuple[int, int]:
    """`full` is the real dataset's size; a number N means N movies and N/4 series."""
    if isinstance(size, str) and size.strip().lower() == "full":
        return FULL_MOVIES, FULL_SERIES
    try:
        movies = int(str(size).replace(",", "").replace("_", ""))
    except ValueError:
        movies = 0
    if movies < 1:
        raise UserError(
            f"Sample size {size!r} is not valid: give a positive number of movies (series are a quarter "
            f"of that), e.g. 2000, or `full` for the real dataset's size ({FULL_MOVIES:,} movies + "
            f"{FULL_SERIES:,} series)."
        )
    return movies, max(1, movies // 4)


# ----------------------------------------------------------------------------------------------------
# Reference values, with weights taken from the real files where it matters.

_MOVIE_GENRES = [
    ((18, "Drama"), 1751), ((35, "Comedy"), 1234), ((28, "Action"), 631), ((53, "Thriller"), 604),
    ((10749, "Romance"), 517), ((99, "Documentary"), 513), ((27, "Horror"), 508), ((80, "Crime"), 381),
    ((10402, "Music"), 298), ((12, "Adventure"), 286), ((10751, "Family"), 286), ((16, "Animation"), 252),
    ((14, "Fantasy"), 239), ((878, "Science Fiction"), 205), ((9648, "Mystery"), 195),
    ((10752, "War"), 157), ((10770, "TV Movie"), 148), ((36, "History"), 125), ((37, "Western"), 103),
]  # fmt: skip
_TV_GENRES = [
    ((18, "Drama"), 309), ((35, "Comedy"), 305), ((99, "Documentary"), 254), ((16, "Animation"), 158),
    ((10759, "Action & Adventure"), 88), ((10764, "Reality"), 88), ((10751, "Family"), 86),
    ((80, "Crime"), 79), ((9648, "Mystery"), 69), ((10765, "Sci-Fi & Fantasy"), 67), ((10762, "Kids"), 62),
    ((10767, "Talk"), 41), ((10768, "War & Politics"), 18), ((10763, "News"), 16), ((10766, "Soap"), 7),
    ((37, "Western"), 4),
]  # fmt: skip
_COUNTRIES = [
    (("US", "United States of America"), 1601), (("FR", "France"), 318), (("DE", "Germany"), 306),
    (("IT", "Italy"), 266), (("GB", "United Kingdom"), 261), (("JP", "Japan"), 246), (("ES", "Spain"), 192),
    (("CA", "Canada"), 135), (("HK", "Hong Kong"), 111), (("IN", "India"), 83), (("MX", "Mexico"), 64),
    (("RU", "Russia"), 54), (("TW", "Taiwan"), 53), (("SE", "Sweden"), 48), (("RS", "Serbia"), 46),
    (("CH", "Switzerland"), 46), (("PH", "Philippines"), 45), (("NL", "Netherlands"), 41),
    (("KR", "South Korea"), 38), (("DK", "Denmark"), 31), (("BE", "Belgium"), 29), (("AT", "Austria"), 28),
    (("PT", "Portugal"), 28), (("PL", "Poland"), 28), (("AU", "Australia"), 28), (("CN", "China"), 23),
    (("BR", "Brazil"), 22), (("AR", "Argentina"), 22), (("SU", "Soviet Union"), 21),
    (("CZ", "Czech Republic"), 19), (("TH", "Thailand"), 19), (("HU", "Hungary"), 17),
    (("FI", "Finland"), 17), (("NO", "Norway"), 17), (("TR", "Turkey"), 17), (("IE", "Ireland"), 16),
    (("IL", "Israel"), 15), (("CL", "Chile"), 14), (("ID", "Indonesia"), 14), (("RO", "Romania"), 11),
    (("GR", "Greece"), 9), (("EG", "Egypt"), 10), (("MY", "Malaysia"), 8),
]  # fmt: skip
# iso_639_1 -> (name as TMDB spells it in spoken_languages, weight as original_language, script)
_LANGUAGES = {
    "en": ("English", 3194, "latin"), "fr": ("Français", 263, "latin"), "es": ("Español", 256, "latin"),
    "de": ("Deutsch", 251, "latin"), "ja": ("日本語", 224, "kana"), "it": ("Italiano", 224, "latin"),
    "zh": ("普通话", 93, "han"), "cn": ("广州话 / 廣州話", 74, "han"), "hi": ("हिन्दी", 61, "devanagari"),
    "ru": ("Pусский", 58, "cyrillic"), "sr": ("Srpski", 45, "latin"), "nl": ("Nederlands", 44, "latin"),
    "pt": ("Português", 44, "latin"), "sv": ("svenska", 42, "latin"), "ko": ("한국어/조선말", 37, "hangul"),
    "ta": ("தமிழ்", 28, "tamil"), "da": ("Dansk", 26, "latin"), "tr": ("Türkçe", 22, "latin"),
    "pl": ("Polski", 20, "latin"), "cs": ("Český", 19, "latin"), "fi": ("suomi", 18, "latin"),
    "th": ("ภาษาไทย", 17, "thai"), "no": ("Norsk", 15, "latin"), "hu": ("Magyar", 14, "latin"),
    "ar": ("العربية", 12, "arabic"), "tl": ("", 11, "latin"), "id": ("Bahasa indonesia", 10, "latin"),
    "he": ("עִבְרִית", 9, "hebrew"), "el": ("ελληνικά", 4, "greek"), "xx": ("No Language", 4, "latin"),
}  # fmt: skip
_SERIES_LANGUAGE_WEIGHTS = {
    "en": 939, "fr": 248, "zh": 195, "es": 132, "ja": 104, "ar": 71, "el": 66, "de": 64, "ru": 54, "ko": 48,
    "pt": 32, "nl": 26, "cs": 26, "it": 24, "th": 21, "hi": 20, "sv": 18, "da": 11, "pl": 11, "he": 9,
    "no": 9, "tr": 9, "tl": 8, "fi": 7, "hu": 7, "cn": 6,
}  # fmt: skip
# fmt: off
_MOVIE_STATUS = [("Released", 99_500), ("Post Production", 200), ("In Production", 100), ("Planned", 100),
                 ("Rumored", 50), ("Canceled", 50)]
# (status, in_production, weight): real counts of the pairs
_SERIES_STATUS = [("Returning Series", True, 1379), ("Ended", False, 655), ("Ended", True, 108),
                  ("In Production", True, 49), ("Canceled", False, 14), ("Planned", True, 8),
                  ("Pilot", True, 4)]
_SERIES_TYPES = [("Scripted", 1766), ("Documentary", 171), ("Miniseries", 138), ("Reality", 90),
                 ("Talk Show", 38), ("Video", 11), ("News", 3)]
_RUN_TIMES = [(30, 139), (60, 103), (45, 80), (50, 28), (25, 24), (90, 20), (52, 18), (40, 17), (15, 16),
              (26, 15), (24, 15), (22, 15), (8, 14), (55, 13), (20, 13), (43, 11), (5, 10), (120, 8)]
_WORDS = {
    "latin": ["amor", "noche", "ciudad", "vida", "sombra", "rouge", "nuit", "soleil", "liebe", "stadt",
              "sommer", "notte", "strada", "cuore", "zeit", "mar", "luz", "tempo", "fuego", "ombre",
              "été", "corazón", "straße", "año", "fête", "piñata", "rêve", "över", "mörk", "łąka"],
    "kana": ["サクラ", "ヒカリ", "ミライ", "カゼ", "ソラ", "ユメ", "ヨル", "ウミ", "ハナ", "ツキ"],
    "han": ["城市", "夜", "风", "爱情", "英雄", "江湖", "月亮", "故事", "天空", "龍"],
    "devanagari": ["प्रेम", "रात", "दिल", "कहानी", "सपना", "शहर", "आग", "जीवन"],
    "cyrillic": ["ночь", "город", "любовь", "война", "зима", "дорога", "небо", "море"],
    "hangul": ["사랑", "밤", "도시", "바다", "하늘", "꿈", "별", "봄"],
    "tamil": ["காதல்", "இரவு", "நகரம்", "கனவு", "வானம்"],
    "thai": ["ความรัก", "กลางคืน", "เมือง", "ทะเล", "ฝัน"],
    "arabic": ["الحب", "الليل", "المدينة", "البحر", "الحلم"],
    "hebrew": ["אהבה", "לילה", "עיר", "ים", "חלום"],
    "greek": ["αγάπη", "νύχτα", "πόλη", "θάλασσα", "όνειρο"],
}
_ADJECTIVES = ["Silent", "Last", "Broken", "Golden", "Dark", "Lost", "Hidden", "Wild", "Crimson", "Final",
               "Secret", "Frozen", "Burning", "Little", "Great", "Endless", "Forgotten", "Midnight",
               "Electric", "Savage", "Quiet", "Hollow", "Bitter", "Sweet", "Iron", "Velvet"]
_NOUNS = ["River", "Night", "City", "Heart", "Road", "Storm", "Garden", "Shadow", "Empire", "Dream",
          "Island", "Mirror", "Summer", "Stranger", "Kingdom", "Promise", "Ghost", "Harbor", "Circus",
          "Frontier", "Letter", "Machine", "Orchard", "Voyage", "Witness", "Echo", "Horizon"]
_TITLE_PATTERNS = ["The {a} {n}", "{a} {n}", "{n} of the {a} {n2}", "The {n}", "{n} & {n2}", "A {a} {n}",
                   "The {n}'s {n2}", "{a} {n} II", "Return to {n}", "{n}: The {a} {n2}"]
_SUBJECTS = ["A retired detective", "Two estranged sisters", "A young pianist", "A small-town mechanic",
             "An ambitious journalist", "A family of farmers", "A disgraced surgeon", "A group of friends",
             "A lonely astronaut", "An aging boxer", "A runaway teenager", "A village schoolteacher"]
_VERBS = ["must confront", "sets out to uncover", "is drawn into", "tries to escape", "falls for",
          "fights to protect", "returns home to face", "stumbles upon"]
_OBJECTS = ["a conspiracy that reaches the highest office", "the secret their mother kept for decades",
            "a stranger with no memory", "the ghosts of a long war", "a debt that cannot be repaid",
            "an inheritance nobody wanted", "a rivalry that spans generations", "the last train out"]
_ENDINGS = ["Nothing will ever be the same.", "Based on a true story.", "", "Time is running out.",
            "Some doors should stay closed.", "What starts as a game becomes a fight for survival."]
_TAGLINES = ["Every secret has a price.", "The journey is the destination.", "Nobody gets out alive.",
             "Love is a battlefield.", "Some legends never die.", "Trust no one.", "One night. One chance.",
             "The truth will surface."]
_FIRST_NAMES = ["Anna", "Marco", "Yuki", "Pierre", "Olga", "James", "Mei", "Carlos", "Ingrid", "Ravi",
                "Sofia", "Tom", "Amara", "Lukas", "Hana", "Diego", "Nora", "Kenji", "Eva", "Omar"]
_LAST_NAMES = ["Rossi", "Tanaka", "Dubois", "Ivanova", "Smith", "Chen", "García", "Larsen", "Sharma",
               "Novak", "Müller", "Kowalski", "O'Brien", "Haddad", "Silva", "Kim", "Nakamura", "Jensen"]
_COMPANY_SUFFIXES = ["Pictures", "Films", "Entertainment", "Productions", "Studios", "Media", "Film",
                     "Company", "Television", "Filmproduktion", "Producciones", "Cinéma"]
_NETWORK_NAMES = ["YouTube", "CBS", "Netflix", "NBC", "ABC", "TF1", "iQiyi", "ITV", "Amazon",
                  "Tencent Video", "BBC One", "Fuji TV", "France 2", "ZDF", "RAI 1", "Canal+", "HBO",
                  "Česká televize", "TVB Jade", "KBS2", "Channel 4", "Globo", "Televisa", "SBS", "NHK"]
_NETWORK_COUNTRIES = ["US", "US", "US", "US", "US", "FR", "CN", "GB", "US", "CN", "GB", "JP", "FR", "DE",
                      "IT", "FR", "US", "CZ", "HK", "KR", "GB", "BR", "MX", "KR", "JP"]
# fmt: on
_B64_TO_B62 = str.maketrans("+/", "Qz")
_HEX = "0123456789abcdef"
_FIRST_DAY, _LAST_DAY = date(1900, 1, 1).toordinal(), date(2020, 12, 31).toordinal()


class _Weighted:
    """Fast weighted choice: bisect on cumulative weights."""

    def __init__(self, pairs: Sequence[tuple[Any, int]]) -> None:
        self.values = [v for v, _ in pairs]
        self.cum = list(accumulate(w for _, w in pairs))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random) -> Any:
        return self.values[bisect(self.cum, rng.random() * self.total)]


_W_MOVIE_GENRES = _Weighted(_MOVIE_GENRES)
_W_TV_GENRES = _Weighted(_TV_GENRES)
_W_COUNTRIES = _Weighted(_COUNTRIES)
_W_MOVIE_LANG = _Weighted([(k, v[1]) for k, v in _LANGUAGES.items()])
_W_SERIES_LANG = _Weighted(list(_SERIES_LANGUAGE_WEIGHTS.items()))
_W_MOVIE_STATUS = _Weighted(_MOVIE_STATUS)
_W_SERIES_STATUS = _Weighted([((s, p), w) for s, p, w in _SERIES_STATUS])
_W_SERIES_TYPES = _Weighted(_SERIES_TYPES)
_W_RUN_TIMES = _Weighted(_RUN_TIMES)
# list lengths when not empty, from the real counts
_W_GENRE_N = _Weighted([(1, 1918), (2, 1464), (3, 771), (4, 245), (5, 45), (6, 9)])
_W_COMPANY_N = _Weighted([(1, 1738), (2, 729), (3, 342), (4, 132), (5, 52), (6, 34), (7, 13), (9, 7)])
_W_SMALL_N = _Weighted([(1, 3252), (2, 409), (3, 100), (4, 24), (5, 12)])
_W_SEASONS = _Weighted([(1, 1815), (2, 125), (3, 52), (4, 22), (5, 17), (6, 10), (7, 5), (9, 6), (12, 3)])
_W_EPISODES = _Weighted(
    [
        (1, 872),
        (6, 238),
        (13, 191),
        (8, 158),
        (10, 150),
        (4, 132),
        (3, 117),
        (2, 106),
        (5, 91),
        (12, 90),
        (20, 60),
        (24, 40),
        (26, 30),
        (52, 10),
        (100, 4),
    ]
)


def _image(rng: random.Random, ext: str = ".jpg") -> str:
    """A TMDB image path: "/" + 27 letters and digits + extension."""
    return (
        "/"
        + b64encode(rng.getrandbits(168).to_bytes(21, "little"))[:27].decode().translate(_B64_TO_B62)
        + ext
    )


def _maybe_image(rng: random.Random, p_null: float, ext: str = ".jpg") -> str | None:
    return None if rng.random() < p_null else _image(rng, ext)


def _day(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat()


def _year_start(rng: random.Random, mean_age: float) -> int:
    """A day in a plausible year: most titles are recent, a long tail reaches back to 1900."""
    year = max(1900, 2020 - int(rng.expovariate(1 / mean_age)))
    start = date(year, 1, 1).toordinal()
    return min(_LAST_DAY, start + rng.randrange(366))


def _slug(title: str) -> str:
    return "".join(ch for ch in title.lower() if ch.isascii() and ch.isalnum())


def _title(rng: random.Random) -> str:
    pattern = _TITLE_PATTERNS[rng.randrange(len(_TITLE_PATTERNS))]
    return pattern.format(a=rng.choice(_ADJECTIVES), n=rng.choice(_NOUNS), n2=rng.choice(_NOUNS))


def _native_title(rng: random.Random, language: str, title: str) -> str:
    """The original title: the English one for English titles, mostly a native-script one otherwise."""
    script = _LANGUAGES.get(language, ("", 0, "latin"))[2]
    if language in ("en", "xx") or rng.random() < 0.35:
        return title
    words = _WORDS[script]
    sep = "" if script in ("kana", "han") else " "
    text = sep.join(rng.choice(words) for _ in range(rng.randint(1, 3)))
    return text[0].upper() + text[1:] if script == "latin" else text


def _overview(rng: random.Random, p_empty: float) -> str:
    if rng.random() < p_empty:
        return ""
    text = f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}."
    if rng.random() < 0.6:
        text += f" {rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}."
    ending = rng.choice(_ENDINGS)
    return f"{text} {ending}" if ending else text


def _genres(rng: random.Random, weighted: _Weighted, p_empty: float) -> list[Doc]:
    if rng.random() < p_empty:
        return []
    picked: list[tuple[int, str]] = []
    for _ in range(_W_GENRE_N.pick(rng)):
        genre = weighted.pick(rng)
        if genre not in picked:
            picked.append(genre)
    return [{"id": gid, "name": name} for gid, name in picked]


@cache
def _company(company_id: int) -> Doc:
    rng = random.Random(company_id * 7919)
    country = "" if rng.random() < 0.48 else _W_COUNTRIES.pick(rng)[0]
    name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {rng.choice(_COMPANY_SUFFIXES)}"
    return {
        "id": company_id,
        "logo_path": _maybe_image(rng, 0.6, ".png"),
        "name": name,
        "origin_country": country,
    }


def _companies(rng: random.Random, p_empty: float) -> list[Doc]:
    if rng.random() < p_empty:
        return []
    ids = dict.fromkeys(1 + int(rng.paretovariate(0.9) * 40) % 120_000 for _ in range(_W_COMPANY_N.pick(rng)))
    return [_company(cid) for cid in ids]


@cache
def _network(index: int) -> Doc:
    rng = random.Random(index * 104729)
    if index < len(_NETWORK_NAMES):
        name, country = _NETWORK_NAMES[index], _NETWORK_COUNTRIES[index]
    else:
        name, country = f"{rng.choice(_NOUNS)} {rng.choice(['TV', 'Channel', 'One', 'Plus'])}", ""
        country = _W_COUNTRIES.pick(rng)[0]
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
        "credit_id": "".join(rng.choices(_HEX, k=24)),
        "name": f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}",
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
    picked = dict(_W_COUNTRIES.pick(rng) for _ in range(_W_SMALL_N.pick(rng)))
    return [{"iso_3166_1": code, "name": name} for code, name in picked.items()]


def _spoken_languages(rng: random.Random, language: str, p_empty: float) -> list[Doc]:
    if rng.random() < p_empty:
        return []
    codes = dict.fromkeys([language] + [_W_MOVIE_LANG.pick(rng) for _ in range(_W_SMALL_N.pick(rng) - 1)])
    return [{"iso_639_1": code, "name": _LANGUAGES[code][0]} for code in codes]


def _creators(rng: random.Random, p_empty: float) -> list[Doc]:
    if rng.random() < p_empty:
        return []
    return [_person(rng.randrange(1, 2_000_000)) for _ in range(_W_SMALL_N.pick(rng))]


def _run_times(rng: random.Random, p_empty: float) -> list[int]:
    if rng.random() < p_empty:
        return []
    return sorted({_W_RUN_TIMES.pick(rng) for _ in range(1 if rng.random() < 0.9 else 2)}, reverse=True)


def _networks(rng: random.Random, p_empty: float) -> list[Doc]:
    if rng.random() < p_empty:
        return []
    indexes = dict.fromkeys(min(int(rng.paretovariate(0.7)) - 1, 299) for _ in range(_W_SMALL_N.pick(rng)))
    return [_network(index) for index in indexes]


def movie_id(index: int) -> int:
    return index + 1 + index // 2  # sparse and unique, like real ids (about 1.5 ids per movie)


def series_id(index: int) -> int:
    return index + 1 + index // 9


def _rng(seed: int, entity: int, index: int, salt: int = 0) -> random.Random:
    return random.Random((seed << 48) ^ (salt << 44) ^ (entity << 40) ^ index)


def make_movie(seed: int, index: int) -> Doc:
    rng = _rng(seed, 0, index)
    language = _W_MOVIE_LANG.pick(rng)
    title = _title(rng)
    votes = _count(rng, 0.22, 12, 1.9)
    collection = None
    if rng.random() < 0.07:
        cid = 10_000 + (index // 3) * 7
        crng = random.Random(cid)
        collection = {
            "id": cid,
            "name": f"{rng.choice(_NOUNS)} Collection",
            "poster_path": _maybe_image(crng, 0.2),
            "backdrop_path": _maybe_image(crng, 0.3),
        }
    budget = 0 if rng.random() < 0.887 else int(rng.lognormvariate(15.5, 1.4)) // 1000 * 1000 + 1000
    return {
        "adult": False,
        "backdrop_path": _maybe_image(rng, 0.66),
        "belongs_to_collection": collection,
        "budget": budget,
        "genres": _genres(rng, _W_MOVIE_GENRES, 0.14),
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
        "status": _W_MOVIE_STATUS.pick(rng),
        "tagline": "" if rng.random() < 0.72 else rng.choice(_TAGLINES),
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
    language = _W_SERIES_LANG.pick(rng)
    name = _title(rng)
    status, in_production = _W_SERIES_STATUS.pick(rng)
    n_seasons = 0 if rng.random() < 0.04 else min(40, _W_SEASONS.pick(rng))
    # real mix: both air dates 87%, neither 8.6%, only the last 2.7%, only the first 1.7%
    dates_roll = rng.random()
    first: int | None = None
    last: int | None = None
    if dates_roll < 0.87 or dates_roll >= 0.956:
        start = _year_start(rng, 9)
        span = rng.randint(0, 60) if n_seasons <= 1 else rng.randint(200, 400) * n_seasons
        end = max(start, min(_LAST_DAY - 60, start + span))
        first = start if dates_roll < 0.87 or dates_roll >= 0.983 else None
        last = end if dates_roll < 0.983 else None

    seasons: list[Doc] = []
    if n_seasons:
        if rng.random() < 0.03:
            seasons.append(_season(rng, sid, 0, rng.randint(1, 6), None))
        for number in range(1, n_seasons + 1):
            air = None if first is None or rng.random() < 0.1 else first + (number - 1) * 365
            seasons.append(_season(rng, sid, number, _W_EPISODES.pick(rng), air))
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
            min(_LAST_DAY, last + 7),
        )
    votes = _count(rng, 0.81, 3, 1.5)
    homepage = "" if rng.random() < 0.75 else f"https://www.{_slug(name)}.tv/"
    return {
        "backdrop_path": _maybe_image(rng, 0.63),
        "created_by": _creators(rng, 0.79),
        "episode_run_time": _run_times(rng, 0.63),
        "first_air_date": None if first is None else _day(first),
        "genres": _genres(rng, _W_TV_GENRES, 0.5),
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
        "origin_country": [] if rng.random() < 0.5 else [_W_COUNTRIES.pick(rng)[0]],
        "original_language": language,
        "original_name": _native_title(rng, language, name),
        "overview": _overview(rng, 0.47),
        "popularity": _popularity(rng, 0.55),
        "poster_path": _maybe_image(rng, 0.35),
        "production_companies": _companies(rng, 0.7),
        "seasons": seasons,
        "status": status,
        "type": _W_SERIES_TYPES.pick(rng),
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
        episodes = _W_EPISODES.pick(rng)
        start = max(date.fromisoformat(doc["last_air_date"]).toordinal() + 30, date(2020, 1, 1).toordinal())
        start = min(start, _LAST_DAY - 1)
        end = min(_LAST_DAY, start + 7 * episodes)
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


def entity_count(spec: SampleSpec, entity: str) -> int:
    """How many titles of an entity a version has: version 2 adds about 1% new ones."""
    base = spec.movies if entity == "movies" else spec.series
    return base if spec.version == 1 else base + max(1, base // 100)


# ----------------------------------------------------------------------------------------------------
# Writing files.


def _write_range(folder: str, entity: str, start: int, stop: int, seed: int, version: int, base: int) -> int:
    prefix = "movie_" if entity == "movies" else "series_"
    id_of = movie_id if entity == "movies" else series_id
    written = 0
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    for index in range(start, stop):
        data = orjson.dumps(make_doc(entity, seed, index, version, base))
        fd = os.open(f"{folder}/{prefix}{id_of(index)}.json", flags, 0o644)
        try:
            view = memoryview(data)
            while view:  # a short write (disk nearly full) is followed by one that raises
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        written += len(data)
    return written


@dataclass
class GenerateStats:
    movies: int
    series: int
    bytes: int
    elapsed_s: float


def generate(out_dir: Path, spec: SampleSpec, *, workers: int = 2, force: bool = False) -> GenerateStats:
    """Write the sample in the dataset's layout (out_dir/movies/movies, out_dir/series/series).

    The files are written into a temporary sibling folder that is renamed into place when complete,
    so an interrupted run never leaves a half-written sample behind.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not force:
        raise UserError(
            f"{out_dir} already exists and is not empty. Remove it, choose another --out, or pass --force."
        )
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tasks = []
        for entity, sub in (("movies", "movies/movies"), ("series", "series/series")):
            folder = tmp / sub
            folder.mkdir(parents=True)
            base = spec.movies if entity == "movies" else spec.series
            total = entity_count(spec, entity)
            tasks += [
                (str(folder), entity, i, min(i + _CHUNK, total), spec.seed, spec.version, base)
                for i in range(0, total, _CHUNK)
            ]
        if workers > 1 and len(tasks) > 1:
            with ProcessPoolExecutor(workers, mp_context=_mp_context()) as pool:
                written = sum(pool.map(_write_range, *zip(*tasks, strict=True)))
        else:
            written = sum(_write_range(*task) for task in tasks)
        (tmp / PARAMS_FILE).write_bytes(
            orjson.dumps({**asdict(spec), "generator_version": GENERATOR_VERSION})
        )
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UserError(
            f"Could not write the sample to {out_dir}: {exc.strerror or exc}. "
            "Free some disk space or choose another folder."
        ) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return GenerateStats(
        entity_count(spec, "movies"), entity_count(spec, "series"), written, time.perf_counter() - started
    )


def _mp_context() -> Any:
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else methods[0])


def kagglehub_dataset_dir(cache_dir: Path, version: int) -> Path:
    """Where kagglehub keeps a dataset version: <cache>/datasets/<owner>/<dataset>/versions/<v>."""
    return Path(cache_dir, "datasets", *KAGGLE_HANDLE.split("/"), "versions", str(version))


def kagglehub_marker(cache_dir: Path, version: int) -> Path:
    """The file kagglehub checks before using its cache: <cache>/datasets/<owner>/<dataset>/<v>.complete."""
    return Path(cache_dir, "datasets", *KAGGLE_HANDLE.split("/"), f"{version}.complete")


def cached_spec(dataset_dir: Path) -> SampleSpec | None:
    """The parameters a sample folder was generated with, or None if it is not a complete sample."""
    try:
        params = orjson.loads((dataset_dir / PARAMS_FILE).read_bytes())
        if params.pop("generator_version") != GENERATOR_VERSION:
            return None
        return SampleSpec(**params)
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
        return None


def ensure_in_kagglehub_cache(cache_dir: Path, spec: SampleSpec, *, workers: int = 2) -> tuple[Path, bool]:
    """Generate the sample into a kagglehub cache unless the same sample is already there.

    Returns (dataset folder, whether it was generated now). The completion marker is written last,
    so kagglehub never sees a half-written sample as complete.
    """
    target = kagglehub_dataset_dir(cache_dir, spec.version)
    marker = kagglehub_marker(cache_dir, spec.version)
    if marker.exists() and cached_spec(target) == spec:
        return target, False
    marker.unlink(missing_ok=True)
    generate(target, spec, workers=workers, force=True)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    return target, True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tmdb_pipeline.sample", description=__doc__.split("\n\n")[0]
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", type=Path, help="write a dataset folder (movies/movies, series/series) here")
    where.add_argument(
        "--kagglehub-cache", type=Path, help="write into this kagglehub cache (KAGGLEHUB_CACHE)"
    )
    parser.add_argument(
        "--size", default=str(DEFAULT_MOVIES), help="number of movies (series: a quarter), or `full`"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--version", type=int, choices=(1, 2), default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--force", action="store_true", help="replace --out if it already exists")
    args = parser.parse_args(argv)
    try:
        movies, series = parse_size(args.size)
        spec = SampleSpec(movies, series, args.seed, args.version)
        if args.out is not None:
            stats = generate(args.out, spec, workers=args.workers, force=args.force)
            where_to = args.out
        else:
            started = time.perf_counter()
            where_to, fresh = ensure_in_kagglehub_cache(args.kagglehub_cache, spec, workers=args.workers)
            if not fresh:
                print(f"{spec.label()} is already in {where_to}; nothing to do.")
                return 0
            stats = GenerateStats(
                entity_count(spec, "movies"), entity_count(spec, "series"), 0, time.perf_counter() - started
            )
    except UserError as exc:
        print(exc, file=sys.stderr)
        return exc.exit_code
    files = stats.movies + stats.series
    print(
        f"Wrote {spec.label()} to {where_to}: {files:,} files in {stats.elapsed_s:.1f} s "
        f"({files / max(stats.elapsed_s, 1e-9):,.0f} files/s)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
