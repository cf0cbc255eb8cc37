"""MemberPool: every room mixed in one pass gives, row for row, the N−1 mix of each room on its own."""
import numpy as np

from fsbridge.engines.standalone.mixer import reference_mix
from fsbridge.engines.standalone.pool import MemberPool


class _Room:
    def __init__(self, rows):
        self.rows = np.array(rows, np.int64)


def test_one_pass_equals_each_room_alone_with_free_rows_muted_and_held():
    rng = np.random.default_rng(4)
    pool = MemberPool(8)
    rows = [pool.alloc(object(), None) for _ in range(23)]
    for r in (3, 10, 11):                        # members who left: free rows between the rooms' rows
        pool.release(r)
    live = [r for r in rows if r not in (3, 10, 11)]
    rooms = [_Room(live[0:1]), _Room(live[1:4]), _Room(live[4:14]), _Room(live[14:])]
    pool.heard[live] = pool.hears[live] = pool.talk_active[live] = True
    muted, held = live[5], live[15]
    pool.heard[muted] = False                    # muted: hears the room, is not heard
    pool.heard[held] = pool.hears[held] = False  # held: neither
    # loud enough to clip in the big rooms
    pool.frames[live] = rng.integers(-32768, 32767, (len(live), 8), dtype=np.int16)
    pool.rebuild(rooms)
    out = pool.mix()
    for room in rooms:
        r = room.rows
        want = reference_mix(pool.frames[r], pool.heard[r])
        want[~pool.hears[r]] = 0
        assert np.array_equal(out[r], want), f"room of {len(r)}"
    assert not out[[3, 10, 11]].any()


def test_rows_are_reused_and_reset():
    pool = MemberPool(4)
    a = pool.alloc("a", None)
    pool.frames[a] = 7
    pool.heard[a] = True
    pool.release(a)
    assert not pool.frames[a].any() and not pool.heard[a] and pool.row_member[a] is None
    assert pool.alloc("b", None) == a and pool.row_member[a] == "b"
