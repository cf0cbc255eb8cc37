"""REST writes' confirmation waiters (runtime/writes.py): a write forgets only its own waiters when it is
done or times out; the others' stay registered until their confirming events arrive."""
from types import SimpleNamespace

from fsbridge.conference import commands as C
from fsbridge.conference import native as N
from fsbridge.runtime.writes import WritesMixin


class _Writes(WritesMixin):
    def __init__(self):
        self._waiters = {}


def test_drop_forgets_only_its_own_waiters():
    w = _Writes()
    mine = [w._expect(C.MuteMember("r", 1)), w._expect(C.UnmuteMember("r", 2))]
    other = w._expect(C.MuteMember("r", 1))          # another write waiting for the same event
    third = w._expect(C.MuteMember("s", 3))
    w._drop_waiters(mine)
    assert w._waiters == {("r", N.MUTE_MEMBER, 1): [other[1]], ("s", N.MUTE_MEMBER, 3): [third[1]]}
    w._resolve(SimpleNamespace(room="r", action=N.MUTE_MEMBER, member_id=1))
    assert other[1].is_set() and not mine[0][1].is_set()
    w._drop_waiters([other])                          # already resolved: nothing left to drop, no error
    assert list(w._waiters) == [("s", N.MUTE_MEMBER, 3)]


def test_commands_without_confirmation_have_no_waiter():
    w = _Writes()
    assert w._expect(C.StartConference("r")) is None and w._waiters == {}
