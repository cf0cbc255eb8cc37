"""Every member of every room of the standalone engine in one set of arrays, mixed in one vectorised pass.

A member is a *row*: its input frame is ``frames[row]`` (int16 ``(capacity, F)``), its flags are
``heard`` / ``hears`` / ``talk_active`` (bool ``(capacity,)``), and one :class:`~.talk.TalkDetectorBank`
holds the talk state of all rows — one detector bank for all rooms. Rooms are groups of rows.

:meth:`MemberPool.mix` mixes every room of a tick at once (FreeSWITCH mod_conference's algorithm, the same
numbers as :func:`~.mixer.mix_n_minus_1` room by room):

* room sums ``S`` (int32 ``(rooms + 1, F)``) = ``A @ frames`` with ``A`` a sparse (rooms × rows) 0/1
  matrix that has a 1 where the row is in the room and heard (not muted, held or waiting) — a segmented
  sum over the one member array, whatever the room sizes (the extra last row of ``S`` is zeros);
* per listener: ``S[room of the row] − own frame`` (its own contribution only if heard), saturated to
  int16; a row that does not hear its room (held, waiting) or is free reads the zero row.

Rooms with anything beyond that (coaches, input gain ≠ 1, room plays or beeps, hold/wait music, private
plays, recordings) are mixed again room by room by the tick (``tick.py``), which overwrites their rows.
Rebuilding ``A`` and the per-row indices happens only after a membership or flag change (``dirty``).
"""
from __future__ import annotations

from typing import List, Optional

import numpy as np
import scipy.sparse as sp

from .talk import TalkDetectorBank

INT16_MIN, INT16_MAX = -32768, 32767
_BLOCK = 256   # rows per block of the listener pass (keeps the int32 temporary in cache)


class MemberPool:
    """Rows of all members of an engine (capacity grows ×2, min 8).

    ``frame_len``: samples per frame; ``talk_kw``: :class:`TalkDetectorBank` arguments (energy level,
    hangunder/hangover, mode, rate, auto factor). ``row_member[row]`` is the member object of a row (None
    when free), ``row_room[row]`` its room object.
    """

    def __init__(self, frame_len: int, **talk_kw):
        self.frame_len = frame_len
        self.capacity = 0
        self.frames = np.zeros((0, frame_len), np.int16)
        self.gain = np.zeros(0, np.float32)
        self.heard = np.zeros(0, bool)
        self.hears = np.zeros(0, bool)
        self.talk_active = np.zeros(0, bool)
        self.coach_of = np.zeros(0, np.int64)
        self.talk = TalkDetectorBank(capacity=0, **talk_kw)
        self.row_member: List[Optional[object]] = []
        self.row_room: List[Optional[object]] = []
        self.free: List[int] = []
        self.dirty = True
        self.out = np.zeros((0, frame_len), np.int16)
        self._sum_matrix = None
        self._listen = np.zeros(0, np.int64)
        self._all_heard = True
        self._used = 0

    # ------------------------------------------------------------------------ rows ---------------
    def alloc(self, member, room) -> int:
        """A free row for ``member`` of ``room`` (arrays grow ×2 when full)."""
        if not self.free:
            old = self.capacity
            new = max(8, old * 2)
            extra = new - old
            self.frames = np.concatenate([self.frames, np.zeros((extra, self.frame_len), np.int16)])
            self.out = np.zeros((new, self.frame_len), np.int16)
            self.gain = np.concatenate([self.gain, np.ones(extra, np.float32)])
            self.heard = np.concatenate([self.heard, np.zeros(extra, bool)])
            self.hears = np.concatenate([self.hears, np.zeros(extra, bool)])
            self.talk_active = np.concatenate([self.talk_active, np.zeros(extra, bool)])
            self.coach_of = np.concatenate([self.coach_of, np.full(extra, -1, np.int64)])
            self.row_member += [None] * extra
            self.row_room += [None] * extra
            self.talk.grow(new)
            self.free = list(range(new - 1, old - 1, -1))
            self.capacity = new
        row = self.free.pop()
        self.row_member[row] = member
        self.row_room[row] = room
        self.dirty = True
        return row

    def release(self, row: int) -> None:
        """Free ``row``: input zeroed, flags cleared, gain 1, talk state reset (no event)."""
        self.frames[row] = 0
        self.gain[row] = 1.0
        self.heard[row] = self.hears[row] = self.talk_active[row] = False
        self.coach_of[row] = -1
        self.row_member[row] = None
        self.row_room[row] = None
        self.talk.reset(row)
        self.free.append(row)
        self.dirty = True

    # ------------------------------------------------------------------------ the mix ------------
    def rebuild(self, rooms) -> None:
        """Recompute the room-sum matrix and per-row indices from the rows' flags (after changes).
        ``rooms``: the engine's rooms (each with ``rows``, its members' rows, already rebuilt)."""
        cap = self.capacity
        rows_list = [room.rows for room in rooms]
        nrooms = len(rows_list)
        if rows_list:
            rows = np.concatenate(rows_list).astype(np.int64)
            room_idx = np.repeat(np.arange(nrooms, dtype=np.int64), [len(r) for r in rows_list])
        else:
            rows = room_idx = np.zeros(0, np.int64)
        listen = np.full(cap, nrooms, np.int64)   # free rows and rows that do not hear: the zero row
        listen[rows] = np.where(self.hears[rows], room_idx, nrooms)
        heard = self.heard[rows]
        src = heard & (self.coach_of[rows] < 0)
        self._used = int(rows.max()) + 1 if rows.size else 0
        self._listen = listen
        self._sum_matrix = sp.csr_matrix((np.ones(int(src.sum()), np.int32), (room_idx[src], rows[src])),
                                         shape=(nrooms + 1, self._used))
        self._all_heard = bool(rows.size) and bool(heard.all())
        self.dirty = False

    def mix(self) -> np.ndarray:
        """N−1 mix of every plain room (see the module docstring): int16 ``(capacity, F)`` = what each row
        hears from its room, saturated (rows of rooms mixed room by room are overwritten by the tick)."""
        n = self._used
        frames = self.frames[:n]
        room_sums = np.asarray(self._sum_matrix @ frames, dtype=np.int32)
        out = self.out
        listen = self._listen
        heard = self.heard
        for i in range(0, n, _BLOCK):
            j = min(i + _BLOCK, n)
            t = room_sums[listen[i:j]]
            if self._all_heard:
                t -= frames[i:j]
            else:
                np.subtract(t, frames[i:j], out=t, where=heard[i:j, None])
            np.clip(t, INT16_MIN, INT16_MAX, out=t)
            out[i:j] = t
        return out
