"""Recovery helpers of the runtime (issue 15): the disk facts the sans-IO domain needs to complete the
recordings of rooms an engine lost (:func:`with_recording_files`), and the repair of a WAV file whose
writer died before it could write its header sizes (:func:`repair_wav`).

A recorder killed mid-file (standalone bridge SIGKILL; FreeSWITCH ``kill -9``) leaves ``RIFF`` and ``data``
chunk sizes of 0 (or whatever was last flushed) while the samples are on disk (docs/freeswitch.md observed-live §2): the
sizes are patched from the file length, so the recording is playable and its duration truthful.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import struct
from typing import Optional, Tuple

from fsbridge.wire import twilio as R
from fsbridge.conference.native import EngineSnapshot
from fsbridge.conference.resync import vanished

log = logging.getLogger("fsbridge.runtime.recovery")


def repair_wav(path: str) -> Optional[Tuple[int, int]]:
    """Make ``path`` a valid PCM WAV if its RIFF / data sizes are stale; returns ``(file_size bytes,
    duration_ms)`` or None when it is not a readable RIFF/WAVE file (missing, foreign, no ``fmt``/``data``).
    Sizes are only ever raised to what the file holds (an intact file is left unchanged)."""
    try:
        with open(path, "r+b") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            size = os.fstat(f.fileno()).st_size
            pos, byte_rate, data_at = 12, None, None
            while pos + 8 <= size:
                f.seek(pos)
                cid, clen = struct.unpack("<4sI", f.read(8))
                if cid == b"fmt ":
                    fmt = f.read(16)
                    if len(fmt) == 16:
                        byte_rate = struct.unpack("<HHIIHH", fmt)[3]
                elif cid == b"data":
                    data_at = pos
                    break
                pos += 8 + clen + (clen & 1)
            if byte_rate is None or data_at is None or byte_rate <= 0:
                return None
            data_len = size - data_at - 8
            f.seek(data_at + 4)
            if struct.unpack("<I", f.read(4))[0] != data_len:
                f.seek(data_at + 4)
                f.write(struct.pack("<I", data_len))
                f.seek(4)
                f.write(struct.pack("<I", size - 8))
                log.warning("recording %s: header sizes repaired (%d data bytes)", path, data_len)
            return size, data_len * 1000 // byte_rate
    except OSError:
        return None


def with_recording_files(state, snapshot: EngineSnapshot) -> EngineSnapshot:
    """``snapshot`` with ``files`` filled for every running recording of a conference whose room the
    engine no longer has (:func:`fsbridge.conference.resync.vanished`): the file repaired and measured,
    ``(path, 0, 0)`` when there is no usable file (the recording then completes ``absent``)."""
    files = list(snapshot.files)
    known = {f[0] for f in files}
    for conf in vanished(state, snapshot):
        for rec in conf.recordings.values():
            if rec.status not in (R.REC_PROCESSING, R.REC_IN_PROGRESS, R.REC_PAUSED) or rec.path in known:
                continue
            size, ms = repair_wav(rec.path) or (0, 0)
            files.append((rec.path, size, ms))
    return dataclasses.replace(snapshot, files=tuple(files)) if len(files) != len(snapshot.files) else snapshot


__all__ = ["repair_wav", "with_recording_files"]
