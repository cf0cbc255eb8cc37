"""Vectorised N−1 conference mixer (numpy).

Algorithm (FreeSWITCH mod_conference ``conference_thread_run``): one int32 sum of every heard member's
frame; each listener gets the sum minus its own contribution, clipped to int16. Here the whole room is
one matrix operation — there is no Python loop per member per frame.

Shapes: ``n`` = member slots of a room, ``F`` = samples per 20 ms frame (160/320/960 at 8/16/48 kHz).
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

INT16_MIN, INT16_MAX = -32768, 32767


def contributions(frames: np.ndarray, heard: np.ndarray, gain: Optional[np.ndarray] = None) -> np.ndarray:
    """What each member puts into the room: int32 ``(n, F)``.

    ``frames``: int16 ``(n, F)`` (the members' input this frame); ``heard``: bool ``(n,)`` (speaking,
    not muted/held/waiting); ``gain``: float32 ``(n,)`` linear input gain (None = 1.0; a gain ≠ 1 is
    applied as ``rint(sample × gain)``, like FreeSWITCH's ``volume_in`` scaling). Rows not heard are 0.
    """
    c = frames.astype(np.int32)
    if gain is not None and np.any(gain != 1.0):
        c = np.rint(c * gain[:, None].astype(np.float32)).astype(np.int32)
    c *= heard[:, None]
    return c


def mix_n_minus_1(frames: np.ndarray, heard: np.ndarray, gain: Optional[np.ndarray] = None,
                  coach_of: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """N−1 mix of one room for one frame.

    ``frames`` int16 ``(n, F)``; ``heard`` bool ``(n,)``; ``gain`` float32 ``(n,)`` or None;
    ``coach_of`` int ``(n,)``: for a coach, the row index of the only member who hears it, else −1
    (the coach is then excluded from the room sum and added to that one row; FreeSWITCH
    ``relate <coach> <others> nospeak``).

    Returns ``(out, total)``: ``out`` int32 ``(n, F)`` = what each member hears from the room
    (total minus own contribution, plus its coach), **not yet clipped** (overlays such as announcements
    are added before :func:`clip16`); ``total`` int32 ``(F,)`` = the room sum without coaches (what a
    recording of the room contains).
    """
    c = contributions(frames, heard, gain)
    if coach_of is not None and np.any(coach_of >= 0):
        is_coach = coach_of >= 0
        room = c * ~is_coach[:, None]
        total = room.sum(axis=0, dtype=np.int32)
        out = total[None, :] - room
        np.add.at(out, coach_of[is_coach], c[is_coach])
    else:
        total = c.sum(axis=0, dtype=np.int32)
        out = total[None, :] - c
    return out, total


def clip16(x: np.ndarray) -> np.ndarray:
    """Saturate int32 samples to int16 (FreeSWITCH ``switch_normalize_to_16bit``); any shape."""
    return np.clip(x, INT16_MIN, INT16_MAX).astype(np.int16)


def reference_mix(frames: np.ndarray, heard: np.ndarray) -> np.ndarray:
    """Slow, obviously-correct reference: for every listener i, sum over j ≠ i of heard frames, clipped.
    int16 ``(n, F)`` → int16 ``(n, F)``. Used by tests to check :func:`mix_n_minus_1` sample-exactly."""
    n = frames.shape[0]
    out = np.zeros(frames.shape, dtype=np.int16)
    for i in range(n):
        acc = np.zeros(frames.shape[1], dtype=np.int64)
        for j in range(n):
            if j != i and heard[j]:
                acc += frames[j].astype(np.int64)
        out[i] = np.clip(acc, INT16_MIN, INT16_MAX)
    return out
