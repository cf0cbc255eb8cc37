"""URL fragment connection overrides (Twilio 'Webhook connection overrides', jambonz 'Webhook retries')."""
from fsbridge.callbacks.overrides import DeliveryPolicy, policy_for, url_problem

BASE = DeliveryPolicy(connect_timeout_s=5, read_timeout_s=15, deadline_s=3600)


def test_no_fragment_keeps_durable_default():
    url, p = policy_for("https://h.example/cb?x=1", BASE)
    assert url == "https://h.example/cb?x=1" and p == BASE
    assert p.max_retries is None and p.retry_on == {"ct", "rt", "5xx"}


def test_timeouts_in_ms_clamped_to_twilio_ranges():
    url, p = policy_for("https://h/cb#ct=1000&rt=2500&tt=9000", BASE)
    assert url == "https://h/cb"
    assert (p.connect_timeout_s, p.read_timeout_s, p.deadline_s) == (1.0, 2.5, 9.0)
    assert p.max_retries is None  # no rc/rp: durable retries, within tt
    _, p = policy_for("https://h/cb#ct=5&rt=999999", BASE)
    assert (p.connect_timeout_s, p.read_timeout_s) == (0.1, 15.0)


def test_rc_and_rp_replace_the_retry_budget():
    _, p = policy_for("https://h/cb#rc=3&rp=5xx,ct", BASE)
    assert p.max_retries == 3 and p.retry_on == {"5xx", "ct"}
    _, p = policy_for("https://h/cb#rc=9", BASE)
    assert p.max_retries == 5 and p.retry_on == {"ct"}  # max 5, default policy ct
    _, p = policy_for("https://h/cb#rp=all", BASE)
    assert p.max_retries == 0 and p.retry_on == {"ct", "rt", "4xx", "5xx"}


def test_bad_values_are_ignored_not_fatal():
    _, p = policy_for("https://h/cb#ct=soon&rc=x&rp=bogus,rt&e=ashburn&sni=y", BASE)
    assert p.connect_timeout_s == 5 and p.max_retries == 0 and p.retry_on == {"rt"}


def test_url_problems():
    assert url_problem("https://h.example:8443/cb?a=b#rc=1") is None
    assert "scheme" in url_problem("ftp://h/cb")
    assert "scheme" in url_problem("mailto:x@y")
    assert "relative" in url_problem("/cb")
    assert "no host" in url_problem("http:///cb")
    assert "malformed" in url_problem("http://h:notaport/cb")


def test_url_plans_memoise_exactly_what_the_functions_return(caplog):
    import urllib3
    from fsbridge.callbacks.overrides import UrlPlans
    default = DeliveryPolicy()
    plans = UrlPlans(default, limit=3)
    urls = ["http://App.Example/cb?x=1", "http://app.example/a b/ü", "ftp://x/y", "http://:0/", "relative/cb",
            "http://app.example/cb#ct=2000&rt=3000", "http://app.example/cb#rc=x"]
    for _ in range(2):   # second pass: from the memo (and past its limit: cleared, recomputed)
        for url in urls:
            assert plans.problem(url) == url_problem(url)
            target, policy = policy_for(url, default)
            if not url_problem(url):
                target = urllib3.util.parse_url(target).url
            assert plans.plan(url) == (target, policy)
    # a URL with a fragment is read again each time: its override warning is logged per callback, as before
    caplog.clear()
    plans.plan("http://app.example/cb#rc=x")
    plans.plan("http://app.example/cb#rc=x")
    assert sum("not an integer" in r.getMessage() for r in caplog.records) == 2
