"""A logged frame has one definition, ``Frame`` (``domain/messagelog.py``): the table and
the API's model follow it. What of a frame the log keeps is the OCPP adapter's choice:
with ``redact_id_tokens`` the drivers' tokens of either protocol version never reach it,
and the rest of the frame is kept as it was sent."""

from __future__ import annotations

import json

from prometheus_client import CollectorRegistry

from cpo_backend.db.tables import MessageLogRow
from cpo_backend.domain.messagelog import Frame, MessageLog
from cpo_backend.domain.model import MessageLogEntry
from cpo_backend.ocpp.observer import FrameRecorder, OcppMetrics


def test_the_table_and_the_api_model_hold_every_field_of_a_frame_and_when() -> None:
    stored = set(Frame._fields) | {"id", "logged_at"}
    assert {column.name for column in MessageLogRow.__table__.columns} == stored
    assert set(MessageLogEntry.model_fields) == stored


class _KeptFrames(MessageLog):
    """A message log that keeps the frames it is given in memory."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []

    def record(self, frame: Frame) -> None:
        self.frames.append(frame)


FRAMES = [
    # 1.6: the driver's tag, and in the answer the tag of its group.
    Frame("CP", "in", 2, "Authorize", "m1", json.dumps([2, "m1", "Authorize", {"idTag": "T1"}])),
    Frame(
        "CP",
        "out",
        3,
        "Authorize",
        "m1",
        json.dumps([3, "m1", {"idTagInfo": {"status": "Accepted", "parentIdTag": "G1"}}]),
    ),
    # 2.0.1: the token and the group's, each an object holding the token.
    Frame(
        "CS",
        "in",
        2,
        "TransactionEvent",
        "m2",
        json.dumps(
            [
                2,
                "m2",
                "TransactionEvent",
                {
                    "idToken": {"idToken": "T2", "type": "ISO14443"},
                    "groupIdToken": {"idToken": "G2", "type": "Central"},
                },
            ]
        ),
    ),
]


def _recorded(*, redact: bool) -> list[Frame]:
    kept = _KeptFrames()
    recorder = FrameRecorder(
        kept, OcppMetrics(CollectorRegistry()), log_frames=False, redact_id_tokens=redact
    )
    for frame in FRAMES:
        recorder.frame(frame)
    return kept.frames


def test_redacted_frames_keep_everything_but_the_tokens() -> None:
    recorded = _recorded(redact=True)
    assert [frame._replace(payload="") for frame in recorded] == [
        frame._replace(payload="") for frame in FRAMES
    ]
    payloads = [json.loads(frame.payload)[-1] for frame in recorded]
    assert payloads == [
        {"idTag": "***"},
        {"idTagInfo": {"status": "Accepted", "parentIdTag": "***"}},
        {
            "idToken": {"idToken": "***", "type": "ISO14443"},
            "groupIdToken": {"idToken": "***", "type": "Central"},
        },
    ]


def test_without_redaction_frames_are_kept_as_sent() -> None:
    assert _recorded(redact=False) == FRAMES
