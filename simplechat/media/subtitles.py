"""Transcript segments as SubRip (srt) and WebVTT subtitles: pure text formatting."""

from collections.abc import Sequence

from simplechat.llm.speech.base import Segment


def _timestamp(seconds: float, separator: str) -> str:
    total_ms = max(0, round(seconds * 1000))
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def to_srt(segments: Sequence[Segment]) -> str:
    """1\\n00:00:00,000 --> 00:00:01,740\\nhello world\\n\\n2\\n..."""
    blocks = [
        f"{index}\n{_timestamp(s.start, ',')} --> {_timestamp(s.end, ',')}\n{s.text}\n"
        for index, s in enumerate(segments, start=1)
    ]
    return "\n".join(blocks)


def to_vtt(segments: Sequence[Segment]) -> str:
    """WEBVTT\\n\\n00:00:00.000 --> 00:00:01.740\\nhello world\\n..."""
    cues = [
        f"{_timestamp(s.start, '.')} --> {_timestamp(s.end, '.')}\n{s.text}\n" for s in segments
    ]
    return "\n".join(["WEBVTT\n", *cues])
