"""The call registry stays bounded (issue #15 soak, #16): ended calls beyond the limit are forgotten, oldest
ended first, live calls never; forgetting costs O(1) per ended call (a queue, not a search)."""
from fsbridge.runtime.registry import CallRecord, Registry


def record(i: int) -> CallRecord:
    return CallRecord(call_sid=f"CA{i:032d}", account_sid="AC" + "0" * 32, from_="a", to="b",
                      direction="inbound", unique_id=f"uid-{i}")


def test_prune_forgets_the_oldest_ended_calls_beyond_the_limit():
    reg = Registry()
    calls = [reg.add(record(i)) for i in range(6)]
    for i in (3, 0, 4, 1):          # calls end in this order; 2 and 5 stay live
        calls[i].done.set()
        reg.prune(calls[i], keep_completed=2)
    assert [r.call_sid for r in reg.calls()] == [calls[i].call_sid for i in (1, 2, 4, 5)]
    assert reg.by_unique_id("uid-3") is None and reg.by_unique_id("uid-0") is None
    assert reg.by_unique_id("uid-4") is calls[4] and reg.by_unique_id("uid-2") is calls[2]


def test_prune_without_a_record_only_trims():
    reg = Registry()
    first = reg.add(record(1))
    reg.prune(keep_completed=0)
    assert reg.get(first.call_sid) is first    # live: never forgotten
