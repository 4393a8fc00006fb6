"""Alerts: a failed run, an anomaly or a stale source posts one message to a webhook.

The message is Slack's incoming-webhook JSON (`{"text": ...}`), which Mattermost, Rocket.Chat, Teams'
Slack-compatible connectors and most chat tools accept. The URL comes from TMDB_ALERT_WEBHOOK_URL (the
Airflow DAG sets it from its connection `tmdb_alerts_webhook`); it is a secret, so it is never logged nor
written anywhere. With no URL set nothing is sent. A webhook that fails is logged: the run's outcome
stands without it.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

WEBHOOK_ENV = "TMDB_ALERT_WEBHOOK_URL"
TIMEOUT_S = 10.0
MAX_LINES = 15


@dataclass(frozen=True)
class Alert:
    title: str
    lines: Sequence[str]

    def payload(self) -> dict[str, str]:
        shown = list(self.lines[:MAX_LINES])
        if len(self.lines) > MAX_LINES:
            shown.append(f"... and {len(self.lines) - MAX_LINES} more (the run's summary lists them all)")
        return {"text": "\n".join([f"*{self.title}*", *(f"• {line}" for line in shown)])}


def webhook_url() -> str | None:
    url = os.environ.get(WEBHOOK_ENV, "").strip()
    return url or None


def send(alert: Alert, url: str | None = None) -> bool:
    """Post the alert; True when the webhook accepted it, False when none is set or it failed."""
    url = url or webhook_url()
    if url is None:
        return False
    if not url.startswith(("http://", "https://")):
        log.warning("%s is not an http(s) URL: no alert sent", WEBHOOK_ENV)
        return False
    request = urllib.request.Request(
        url,
        data=json.dumps(alert.payload()).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
            ok = 200 <= answer.status < 300
    except (urllib.error.URLError, OSError, ValueError) as error:
        log.warning("the alert webhook could not be reached (%s): the run's outcome stands", error)
        return False
    if not ok:
        log.warning("the alert webhook answered %s", answer.status)
    return ok
