"""`python -m tmdb_devtools check-secrets [FILE ...]` (a pre-commit hook): refuse to commit credentials --
private keys, Kaggle API tokens (kaggle.json) and literal KAGGLE_KEY values.

With no files, every file git tracks. Prints `file:line: what` for each finding and exits 1 if there is any.
References such as `${{ secrets.KAGGLE_KEY }}` or `$KAGGLE_KEY` are fine.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

MAX_BYTES = 5 * 1024 * 1024
CREDENTIAL_FILE_NAMES = {"kaggle.json", "kaggle.json.bak"}
PRIVATE_KEY = re.compile(rb"-----BEGIN[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----")
# KAGGLE_KEY=abc / KAGGLE_KEY: abc / "KAGGLE_KEY": "abc" / export KAGGLE_KEY='abc'
# (but not $KAGGLE_KEY or MY_KAGGLE_KEY, which are other names).
KAGGLE_KEY_ASSIGNMENT = re.compile(
    rb"""(?<![\w$])KAGGLE_KEY["']?\s*[:=]\s*(?P<quote>["']?)(?P<value>[^\s"'#,}]+)"""
)
# The key field of a kaggle.json token: {"username": "...", "key": "<32 hex digits>"}
KAGGLE_JSON_KEY = re.compile(rb""""key"\s*:\s*"[0-9a-f]{32}\"""")
# Values that point at a secret rather than being one.
REFERENCE = re.compile(
    rb"^(\$|\$\{|<|\{\{|os\.environ|env\.|secrets\.|None$|null$|\*+$|x+$|\.\.\.$)", re.IGNORECASE
)


def findings(path: Path) -> Iterator[str]:
    if path.name.lower() in CREDENTIAL_FILE_NAMES:
        yield f"{path}: a Kaggle credentials file; keep it in ~/.kaggle/ (or set KAGGLE_USERNAME/KAGGLE_KEY)"
    try:
        if path.stat().st_size > MAX_BYTES:
            return
        data = path.read_bytes()
    except OSError:
        return
    if b"\0" in data[:8192]:
        return
    for number, line in enumerate(data.splitlines(), start=1):
        if PRIVATE_KEY.search(line):
            yield f"{path}:{number}: a private key"
        match = KAGGLE_KEY_ASSIGNMENT.search(line)
        # In code, an unquoted value is a variable (`{"KAGGLE_KEY": token}`), not a secret.
        in_code = path.suffix == ".py" and not match.group("quote") if match else False
        if match and not in_code and not REFERENCE.match(match.group("value")):
            yield f"{path}:{number}: a literal KAGGLE_KEY value; pass it in the environment or a CI secret"
        if KAGGLE_JSON_KEY.search(line):
            yield f'{path}:{number}: a Kaggle API token (the "key" of a kaggle.json)'


def tracked_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], capture_output=True, check=True).stdout
    return [Path(name) for name in listed.decode().split("\0") if name]


def check(names: Sequence[str]) -> int:
    paths = [Path(name) for name in names] if names else tracked_files()
    problems = [problem for path in paths if path.is_file() for problem in findings(path)]
    for problem in problems:
        print(problem)
    if problems:
        print(f"check-secrets: {len(problems)} credential(s) found; remove them (and rotate any real key).")
    return 1 if problems else 0
