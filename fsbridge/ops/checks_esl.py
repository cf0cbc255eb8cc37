"""doctor checks through FreeSWITCH's inbound event socket (read-only ``api`` commands).

The commands are the Troubleshooting section's ``fs_cli -x`` ones: ``module_exists mod_conference``,
``xml_locate configuration configuration name conference.conf`` (the fsbridge profile *as loaded*, after the
preprocessor — a wrong include path shows up here), ``xml_locate dialplan`` (who routes 7200), ``xml_locate
configuration configuration name switch.conf`` (RTP range), ``sofia status profile internal`` (advertised
addresses) and ``show registrations``.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Dict, List, Optional

from lxml import etree

from fsbridge.engines.freeswitch import wire
from fsbridge.ops.esl_client import ESLCheckError, ESLClient
from fsbridge.ops.fsconf import STOCK_ESL_PASSWORDS, parser

SIP_PROFILE = "internal"
PROBE_NUMBER = "7200"
FIX_PASSWORD = ("give fsbridge event_socket.conf.xml's password: FSBRIDGE_ESL_PASSWORD in /etc/fsbridge/fsbridge.env "
                "(or [freeswitch] esl_password), or run sudo fsbridge setup freeswitch")


def run(ctx) -> None:
    """ESL reachable + password → events → module → profile → dialplan → RTP → registrations."""
    if not check_connect(ctx):
        return
    for check in (check_events, check_module, check_profile, check_dialplan, check_rtp, check_registrations):
        try:
            check(ctx)
        except ESLCheckError as exc:
            ctx.add(check.__name__[6:].replace("_", " "), False, f"ESL: {exc}", "see the ESL checks above")
            return


def check_connect(ctx) -> bool:
    """Connect and authenticate; reports ``ESL reachable`` and ``ESL password`` (stock passwords fail)."""
    s = ctx.settings
    addr = f"{s.esl_host}:{s.esl_port}"
    client = ESLClient(s.esl_host, s.esl_port, timeout=ctx.timeout)
    try:
        client.connect(s.esl_password)
    except ESLCheckError as exc:
        client.close()
        if exc.step == "connect":
            ctx.add("ESL reachable", False, str(exc),
                    f"start FreeSWITCH, and check event_socket.conf.xml listens on {addr} "
                    "(ss -ltnp | grep 8021; esl_host 127.0.0.1, not localhost)")
        else:
            ctx.add("ESL reachable", True, f"{addr} asks for auth")
            ctx.add("ESL password", False, f"FreeSWITCH answered {exc}", FIX_PASSWORD)
        return False
    ctx.esl = client
    ctx.add("ESL reachable", True, f"{addr} asks for auth")
    stock = s.esl_password in STOCK_ESL_PASSWORDS
    ctx.add("ESL password", not stock,
            "accepted, but it is the publicly known stock password" if stock else "accepted (not the stock one)",
            "run sudo fsbridge setup freeswitch (generates one), then restart FreeSWITCH")
    return True


def check_events(ctx) -> None:
    """The engine's own subscription (``event plain … CUSTOM conference::maintenance``) is accepted."""
    reply = ctx.esl.subscribe(wire.SUBSCRIPTION.split(" ", 2)[2])
    ctx.add("events subscribed", reply.startswith("+OK"), reply or "no reply",
            "FreeSWITCH refused the event subscription: check mod_event_socket's log")


def check_module(ctx) -> None:
    """``module_exists mod_conference`` → ``true``."""
    body = ctx.esl.api("module_exists mod_conference").strip()
    ctx.add("mod_conference", body == "true", f"module_exists mod_conference → {body!r}",
            "load it: fs_cli -x 'load mod_conference', and add it to autoload_configs/modules.conf.xml")


def _locate(ctx, what: str) -> Optional[etree._Element]:
    body = ctx.esl.api(f"xml_locate {what}")
    if not body.lstrip().startswith("<"):
        return None
    try:
        return etree.fromstring(body.strip().encode("utf-8"), parser())
    except etree.XMLSyntaxError:
        return None


def _params(element) -> Dict[str, str]:
    return {p.get("name"): p.get("value") for p in element.findall("param")} if element is not None else {}


def check_profile(ctx) -> None:
    """The ``fsbridge`` conference profile is in the loaded conference.conf, with the configured rate and
    enter/exit tones."""
    conf = _locate(ctx, "configuration configuration name conference.conf")
    profiles = conf.find("profiles") if conf is not None else None
    found = [p for p in (profiles.findall("profile") if profiles is not None else []) if p.get("name") == "fsbridge"]
    fix = ("add the include line to conference.conf.xml (its path is relative to autoload_configs/) and run "
           "fs_cli -x reloadxml — sudo fsbridge setup freeswitch does both")
    if not found:
        names = [p.get("name") for p in profiles.findall("profile")] if profiles is not None else []
        ctx.add("fsbridge profile", False, f"not loaded (profiles: {', '.join(names) or 'none'})", fix)
        return
    params = _params(found[0])
    rate = ctx.settings.rate
    tones = bool(params.get("enter-sound")) and bool(params.get("exit-sound"))
    ok = params.get("rate") == str(rate) and tones
    ctx.add("fsbridge profile", ok,
            f"loaded: rate {params.get('rate')}, interval {params.get('interval')}, "
            f"enter/exit tones {'set' if tones else 'missing'}",
            f"the profile's rate must be [engine] rate ({rate}) and enter-sound/exit-sound set: "
            "reinstall freeswitch-conf's profile (sudo fsbridge setup freeswitch)")


def route_of(dialplan, number: str, context: str = "default") -> Optional[tuple]:
    """The first extension of ``context`` whose ``destination_number`` condition matches ``number``:
    ``(extension name, [(application, data), …])``, None when none matches. PCRE patterns are read with
    Python's ``re`` (same syntax for what dialplans use; a pattern ``re`` cannot read is skipped)."""
    for ctx_el in dialplan.iter("context"):
        if ctx_el.get("name") != context:
            continue
        for ext in ctx_el.findall("extension"):
            for cond in ext.findall("condition"):
                if cond.get("field") != "destination_number":
                    continue
                try:
                    if re.search(cond.get("expression") or "", number):
                        return ext.get("name"), [(a.get("application"), a.get("data") or "")
                                                 for a in cond.findall("action")]
                except re.error:
                    continue
    return None


def check_dialplan(ctx) -> None:
    """7200 in context ``default`` reaches ``socket <outbound_host>:<outbound_port>``."""
    s = ctx.settings
    want = f"{s.outbound_host}:{s.outbound_port}"
    plan = _locate(ctx, "dialplan")
    route = route_of(plan, PROBE_NUMBER) if plan is not None else None
    fix = (f"install freeswitch-conf's dialplan/default/fsbridge.xml (socket {want}) and fs_cli -x reloadxml; "
           "[freeswitch] outbound_host/outbound_port must match its socket line")
    if route is None:
        ctx.add("dialplan", False, f"no extension of context default matches {PROBE_NUMBER}", fix)
        return
    name, actions = route
    sockets = [d for a, d in actions if a == "socket"]
    ok = bool(sockets) and sockets[0].split()[0] == want
    seen = f"socket {sockets[0]}" if sockets else ", ".join(a for a, _ in actions) or "no actions"
    ctx.add("dialplan", ok, f"{PROBE_NUMBER} → extension {name!r}: {seen}", fix)


def check_rtp(ctx) -> None:
    """switch.conf's rtp-start-port/rtp-end-port (stock 16384–32768 when unset) form a usable range, and the
    internal SIP profile advertises an RTP address phones can reach (Ext-RTP-IP: not loopback while SIP
    listens on another address)."""
    params = _params(_find(_locate(ctx, "configuration configuration name switch.conf"), "settings"))
    start, end = int(params.get("rtp-start-port") or 16384), int(params.get("rtp-end-port") or 32768)
    ok = 1024 <= start < end <= 65535 and end - start >= 2
    ctx.add("RTP range", ok, f"udp {start}-{end} ({end - start + 1} ports)",
            "set rtp-start-port < rtp-end-port in autoload_configs/switch.conf.xml (1024–65535) and restart")
    status = sip_status(ctx.esl.api(f"sofia status profile {SIP_PROFILE}"))
    if not status:
        ctx.add("advertised address", False, f"SIP profile {SIP_PROFILE!r} is not running",
                "fs_cli -x 'sofia status'; check sip_profiles/internal.xml and FreeSWITCH's log")
        return
    ext = status.get("Ext-RTP-IP", "")
    ok = _reachable(ext, status.get("SIP-IP", ""))
    ctx.add("advertised address", ok, f"{SIP_PROFILE}: RTP-IP {status.get('RTP-IP', '?')}, Ext-RTP-IP {ext or '?'}",
            "set ext-rtp-ip/ext-sip-ip of the SIP profile to an address phones reach (README Troubleshooting, NAT)")


def _reachable(ext: str, sip_ip: str) -> bool:
    """An advertised RTP address is sensible when it is an address, not 0.0.0.0/::, and not loopback unless
    SIP itself is loopback-only (a lab where the phones run on the FreeSWITCH host)."""
    try:
        addr = ipaddress.ip_address(ext)
    except ValueError:
        return False
    if addr.is_unspecified:
        return False
    try:
        sip_loopback = ipaddress.ip_address(sip_ip).is_loopback
    except ValueError:
        sip_loopback = False
    return not addr.is_loopback or sip_loopback


def sip_status(body: str) -> Dict[str, str]:
    """``sofia status profile X`` text → {label: value} ({} for ``Invalid Profile!``)."""
    out = {}
    for line in body.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and not line.startswith("="):
            out[parts[0]] = parts[1].strip()
    return out if "Name" in out else {}


def check_registrations(ctx) -> None:
    """``show registrations``: the registered phones (listed; none is not a failure)."""
    body = ctx.esl.api("show registrations")
    users = registrations(body)
    ctx.add("registered phones", True, ", ".join(users) if users else
            "none yet (register a desk phone: README 'Dial in from a desk phone')")


def registrations(body: str) -> List[str]:
    """``user@realm (ip:port/proto)`` for each row of ``show registrations``' CSV."""
    lines = [x for x in body.splitlines() if x.strip()]
    if not lines or not lines[0].startswith("reg_user,"):
        return []
    head = lines[0].split(",")
    out = []
    for row in lines[1:]:
        if row.endswith(" total."):
            break
        rec = dict(zip(head, row.split(",")))
        out.append(f"{rec.get('reg_user')}@{rec.get('realm')} ({rec.get('network_ip')}:{rec.get('network_port')}"
                   f"/{rec.get('network_proto')})")
    return out


def _find(element, tag):
    return element.find(tag) if element is not None else None
