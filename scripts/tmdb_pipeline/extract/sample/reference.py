"""The sample's reference values: genres, countries, languages, statuses, words for titles and
overviews, and how often each occurs, with weights measured on 7,411 real files where it matters."""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Sequence
from datetime import date
from itertools import accumulate
from typing import Any

MOVIE_GENRES = [
    ((18, "Drama"), 1751), ((35, "Comedy"), 1234), ((28, "Action"), 631), ((53, "Thriller"), 604),
    ((10749, "Romance"), 517), ((99, "Documentary"), 513), ((27, "Horror"), 508), ((80, "Crime"), 381),
    ((10402, "Music"), 298), ((12, "Adventure"), 286), ((10751, "Family"), 286), ((16, "Animation"), 252),
    ((14, "Fantasy"), 239), ((878, "Science Fiction"), 205), ((9648, "Mystery"), 195),
    ((10752, "War"), 157), ((10770, "TV Movie"), 148), ((36, "History"), 125), ((37, "Western"), 103),
]  # fmt: skip
TV_GENRES = [
    ((18, "Drama"), 309), ((35, "Comedy"), 305), ((99, "Documentary"), 254), ((16, "Animation"), 158),
    ((10759, "Action & Adventure"), 88), ((10764, "Reality"), 88), ((10751, "Family"), 86),
    ((80, "Crime"), 79), ((9648, "Mystery"), 69), ((10765, "Sci-Fi & Fantasy"), 67), ((10762, "Kids"), 62),
    ((10767, "Talk"), 41), ((10768, "War & Politics"), 18), ((10763, "News"), 16), ((10766, "Soap"), 7),
    ((37, "Western"), 4),
]  # fmt: skip
COUNTRIES = [
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
LANGUAGES = {
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
SERIES_LANGUAGE_WEIGHTS = {
    "en": 939, "fr": 248, "zh": 195, "es": 132, "ja": 104, "ar": 71, "el": 66, "de": 64, "ru": 54, "ko": 48,
    "pt": 32, "nl": 26, "cs": 26, "it": 24, "th": 21, "hi": 20, "sv": 18, "da": 11, "pl": 11, "he": 9,
    "no": 9, "tr": 9, "tl": 8, "fi": 7, "hu": 7, "cn": 6,
}  # fmt: skip
# fmt: off
MOVIE_STATUS = [("Released", 99_500), ("Post Production", 200), ("In Production", 100), ("Planned", 100),
                 ("Rumored", 50), ("Canceled", 50)]
# (status, in_production, weight): real counts of the pairs
SERIES_STATUS = [("Returning Series", True, 1379), ("Ended", False, 655), ("Ended", True, 108),
                  ("In Production", True, 49), ("Canceled", False, 14), ("Planned", True, 8),
                  ("Pilot", True, 4)]
SERIES_TYPES = [("Scripted", 1766), ("Documentary", 171), ("Miniseries", 138), ("Reality", 90),
                 ("Talk Show", 38), ("Video", 11), ("News", 3)]
RUN_TIMES = [(30, 139), (60, 103), (45, 80), (50, 28), (25, 24), (90, 20), (52, 18), (40, 17), (15, 16),
              (26, 15), (24, 15), (22, 15), (8, 14), (55, 13), (20, 13), (43, 11), (5, 10), (120, 8)]
WORDS = {
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
ADJECTIVES = ["Silent", "Last", "Broken", "Golden", "Dark", "Lost", "Hidden", "Wild", "Crimson", "Final",
               "Secret", "Frozen", "Burning", "Little", "Great", "Endless", "Forgotten", "Midnight",
               "Electric", "Savage", "Quiet", "Hollow", "Bitter", "Sweet", "Iron", "Velvet"]
NOUNS = ["River", "Night", "City", "Heart", "Road", "Storm", "Garden", "Shadow", "Empire", "Dream",
          "Island", "Mirror", "Summer", "Stranger", "Kingdom", "Promise", "Ghost", "Harbor", "Circus",
          "Frontier", "Letter", "Machine", "Orchard", "Voyage", "Witness", "Echo", "Horizon"]
TITLE_PATTERNS = ["The {a} {n}", "{a} {n}", "{n} of the {a} {n2}", "The {n}", "{n} & {n2}", "A {a} {n}",
                   "The {n}'s {n2}", "{a} {n} II", "Return to {n}", "{n}: The {a} {n2}"]
SUBJECTS = ["A retired detective", "Two estranged sisters", "A young pianist", "A small-town mechanic",
             "An ambitious journalist", "A family of farmers", "A disgraced surgeon", "A group of friends",
             "A lonely astronaut", "An aging boxer", "A runaway teenager", "A village schoolteacher"]
VERBS = ["must confront", "sets out to uncover", "is drawn into", "tries to escape", "falls for",
          "fights to protect", "returns home to face", "stumbles upon"]
OBJECTS = ["a conspiracy that reaches the highest office", "the secret their mother kept for decades",
            "a stranger with no memory", "the ghosts of a long war", "a debt that cannot be repaid",
            "an inheritance nobody wanted", "a rivalry that spans generations", "the last train out"]
ENDINGS = ["Nothing will ever be the same.", "Based on a true story.", "", "Time is running out.",
            "Some doors should stay closed.", "What starts as a game becomes a fight for survival."]
TAGLINES = ["Every secret has a price.", "The journey is the destination.", "Nobody gets out alive.",
             "Love is a battlefield.", "Some legends never die.", "Trust no one.", "One night. One chance.",
             "The truth will surface."]
FIRST_NAMES = ["Anna", "Marco", "Yuki", "Pierre", "Olga", "James", "Mei", "Carlos", "Ingrid", "Ravi",
                "Sofia", "Tom", "Amara", "Lukas", "Hana", "Diego", "Nora", "Kenji", "Eva", "Omar"]
LAST_NAMES = ["Rossi", "Tanaka", "Dubois", "Ivanova", "Smith", "Chen", "García", "Larsen", "Sharma",
               "Novak", "Müller", "Kowalski", "O'Brien", "Haddad", "Silva", "Kim", "Nakamura", "Jensen"]
COMPANY_SUFFIXES = ["Pictures", "Films", "Entertainment", "Productions", "Studios", "Media", "Film",
                     "Company", "Television", "Filmproduktion", "Producciones", "Cinéma"]
NETWORK_NAMES = ["YouTube", "CBS", "Netflix", "NBC", "ABC", "TF1", "iQiyi", "ITV", "Amazon",
                  "Tencent Video", "BBC One", "Fuji TV", "France 2", "ZDF", "RAI 1", "Canal+", "HBO",
                  "Česká televize", "TVB Jade", "KBS2", "Channel 4", "Globo", "Televisa", "SBS", "NHK"]
NETWORK_COUNTRIES = ["US", "US", "US", "US", "US", "FR", "CN", "GB", "US", "CN", "GB", "JP", "FR", "DE",
                      "IT", "FR", "US", "CZ", "HK", "KR", "GB", "BR", "MX", "KR", "JP"]
# fmt: on
B64_TO_B62 = str.maketrans("+/", "Qz")
HEX = "0123456789abcdef"
FIRST_DAY, LAST_DAY = date(1900, 1, 1).toordinal(), date(2020, 12, 31).toordinal()


class Weighted:
    """Fast weighted choice: bisect on cumulative weights."""

    def __init__(self, pairs: Sequence[tuple[Any, int]]) -> None:
        self.values = [v for v, _ in pairs]
        self.cum = list(accumulate(w for _, w in pairs))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random) -> Any:
        return self.values[bisect(self.cum, rng.random() * self.total)]


W_MOVIE_GENRES = Weighted(MOVIE_GENRES)
W_TV_GENRES = Weighted(TV_GENRES)
W_COUNTRIES = Weighted(COUNTRIES)
W_MOVIE_LANG = Weighted([(k, v[1]) for k, v in LANGUAGES.items()])
W_SERIES_LANG = Weighted(list(SERIES_LANGUAGE_WEIGHTS.items()))
W_MOVIE_STATUS = Weighted(MOVIE_STATUS)
W_SERIES_STATUS = Weighted([((s, p), w) for s, p, w in SERIES_STATUS])
W_SERIES_TYPES = Weighted(SERIES_TYPES)
W_RUN_TIMES = Weighted(RUN_TIMES)
# list lengths when not empty, from the real counts
W_GENRE_N = Weighted([(1, 1918), (2, 1464), (3, 771), (4, 245), (5, 45), (6, 9)])
W_COMPANY_N = Weighted([(1, 1738), (2, 729), (3, 342), (4, 132), (5, 52), (6, 34), (7, 13), (9, 7)])
W_SMALL_N = Weighted([(1, 3252), (2, 409), (3, 100), (4, 24), (5, 12)])
W_SEASONS = Weighted([(1, 1815), (2, 125), (3, 52), (4, 22), (5, 17), (6, 10), (7, 5), (9, 6), (12, 3)])
W_EPISODES = Weighted(
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
