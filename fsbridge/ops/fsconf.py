"""What ``setup freeswitch`` and ``doctor`` know about a FreeSWITCH configuration directory (the stock
"vanilla" tree of SignalWire's packages, /etc/freeswitch), and the few line-exact XML edits it makes.

Edits are located and checked with lxml (comments kept, no entities, no network) and applied to the
text line by line, because FreeSWITCH's preprocessor is line based (switch_xml.c ``preprocess``): a line
holding ``X-PRE-PROCESS`` is replaced as a whole, so the include we add must stand alone on its line,
and everything else in the operator's files stays byte for byte (uninstall restores exactly).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Optional

from lxml import etree

from fsbridge.ops.changes import Refusal

#: the include ``setup`` puts inside ``<profiles>`` of conference.conf.xml. A relative include is globbed in
#: the directory of the file that contains it (autoload_configs/), not the conf dir; a pattern that
#: matches nothing includes nothing, silently (seen on FreeSWITCH 1.10.12, commit 7de57da).
PROFILE_INCLUDE = '<X-PRE-PROCESS cmd="include" data="conference_profiles/*.xml"/>'
PROFILE_DIR = "autoload_configs/conference_profiles"
CONFERENCE_CONF = "autoload_configs/conference.conf.xml"
EVENT_SOCKET_CONF = "autoload_configs/event_socket.conf.xml"
DIALPLAN_FILE = "dialplan/default/fsbridge.xml"
USER_DIR = "directory/default"
STOCK_ESL_PASSWORDS = ("ClueCon", "CHANGE_ME_ESL_PASSWORD")
MARKERS = ("freeswitch.xml", "vars.xml", "autoload_configs", "dialplan", "directory")


def parser() -> etree.XMLParser:
    """A safe lxml parser for configuration files: no entities, no DTD, no network, comments kept."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_comments=False)


def parse(data: bytes, name: str = "file") -> etree._Element:
    """Parse one configuration file's bytes; :class:`Refusal` naming ``name`` when it is not well-formed."""
    try:
        return etree.fromstring(data, parser())
    except etree.XMLSyntaxError as exc:
        raise Refusal(f"{name} is not well-formed XML ({exc}); nothing was changed") from None


def check_conf_dir(conf: Path) -> None:
    """Raise :class:`Refusal` unless ``conf`` looks like a FreeSWITCH configuration directory (freeswitch.xml,
    vars.xml, autoload_configs/conference.conf.xml, dialplan/default/, directory/default/)."""
    missing = [m for m in MARKERS if not (conf / m).exists()]
    missing += [p for p in (CONFERENCE_CONF, "dialplan/default", USER_DIR) if not (conf / p).exists()]
    if missing:
        raise Refusal(f"{conf} is not a FreeSWITCH configuration directory (missing: {', '.join(missing)}); "
                      "pass --fs-conf DIR (SignalWire's packages: /etc/freeswitch); nothing was changed")


def _line_of(lines: List[str], element) -> int:
    """0-based index of the line an element starts on."""
    return element.sourceline - 1


def add_profile_include(text: str, name: str = CONFERENCE_CONF) -> str:
    """conference.conf.xml text with :data:`PROFILE_INCLUDE` on its own line right after the first
    ``<profiles>`` (mod_conference reads profiles from the first ``<profiles>`` only). Unchanged when the
    line is there. :class:`Refusal` when there is no ``<profiles>``, it shares its line with other markup,
    or a profile named ``fsbridge`` is already defined in the file (which one would win is unclear)."""
    if PROFILE_INCLUDE in text:
        return text
    root = parse(text.encode("utf-8"), name)
    profiles = root.find("profiles")
    if profiles is None:
        raise Refusal(f"{name} has no <profiles> element to add the fsbridge profile to; nothing was changed")
    for p in profiles.findall("profile"):
        if p.get("name") == "fsbridge":
            raise Refusal(f"conflict: {name} already defines a profile named \"fsbridge\" (line {p.sourceline}); "
                          "remove it or let fsbridge's conference_profiles/fsbridge.xml be the one; nothing was changed")
    lines = text.splitlines(True)
    i = _line_of(lines, profiles)
    if lines[i].strip() != "<profiles>":
        raise Refusal(f"conflict: {name} line {i + 1} holds more than <profiles> ({lines[i].strip()!r}); put "
                      f"<profiles> on a line of its own, or add {PROFILE_INCLUDE} inside it yourself; "
                      "nothing was changed")
    indent = re.match(r"\s*", lines[i]).group(0) + "  "
    lines.insert(i + 1, indent + PROFILE_INCLUDE + "\n")
    return "".join(lines)


def remove_profile_include(text: str) -> str:
    """The text without the line(s) :func:`add_profile_include` added."""
    return "".join(line for line in text.splitlines(True) if line.strip() != PROFILE_INCLUDE)


def settings_params(root) -> Dict[str, etree._Element]:
    """``<settings><param name value/>`` of a configuration, name → element (:class:`Refusal` on a
    name defined twice: which one FreeSWITCH uses is the last, and a merge would be guesswork)."""
    out: Dict[str, etree._Element] = {}
    settings = root.find("settings")
    for p in (settings.findall("param") if settings is not None else []):
        if p.get("name") in out:
            raise Refusal(f"conflict: param {p.get('name')!r} is set twice (lines "
                          f"{out[p.get('name')].sourceline} and {p.sourceline}); keep one; nothing was changed")
        out[p.get("name")] = p
    return out


def set_settings_params(text: str, values: Dict[str, str], name: str = EVENT_SOCKET_CONF) -> str:
    """``text`` (a ``<configuration><settings>`` file such as event_socket.conf.xml) with each param of
    ``values`` set: an existing ``<param .../>`` line is rewritten in place, a missing one added before
    ``</settings>``; other lines untouched. :class:`Refusal` when a param to change shares its line."""
    root = parse(text.encode("utf-8"), name)
    settings = root.find("settings")
    if settings is None:
        raise Refusal(f"{name} has no <settings> element; nothing was changed")
    params = settings_params(root)
    lines = text.splitlines(True)
    missing = []
    for key, value in values.items():
        p = params.get(key)
        if p is None:
            missing.append(key)
            continue
        if p.get("value") == value:
            continue
        i = _line_of(lines, p)
        if not re.fullmatch(r"\s*<param\s[^<>]*/>\s*", lines[i]):
            raise Refusal(f"conflict: {name} line {i + 1} holds more than the {key!r} param; put it on a "
                          "line of its own; nothing was changed")
        indent = re.match(r"\s*", lines[i]).group(0)
        lines[i] = f'{indent}<param name="{key}" value="{_attr(value)}"/>\n'
    if missing:
        close = next((j for j in range(len(lines)) if lines[j].strip() == "</settings>"), None)
        if close is None:
            raise Refusal(f"conflict: {name} has no line holding only </settings>; nothing was changed")
        indent = re.match(r"\s*", lines[close]).group(0) + "  "
        lines[close:close] = [f'{indent}<param name="{k}" value="{_attr(values[k])}"/>\n' for k in missing]
    out = "".join(lines)
    parse(out.encode("utf-8"), name)   # still well-formed
    return out


def param_value(data: Optional[bytes], key: str) -> Optional[str]:
    """The value of ``<settings><param name=key>`` in a configuration file's bytes, None when absent or
    the file does not parse."""
    if not data:
        return None
    try:
        p = settings_params(etree.fromstring(data, parser())).get(key)
    except (etree.XMLSyntaxError, Refusal):
        return None
    return None if p is None else p.get("value")


def users_defined(conf: Path, user: str, skip: Path) -> List[Path]:
    """Files under directory/default/ (other than ``skip``) that define ``<user id=user>``."""
    found = []
    for f in sorted((conf / USER_DIR).glob("*.xml")):
        if f == skip:
            continue
        try:
            root = etree.fromstring(f.read_bytes(), parser())
        except etree.XMLSyntaxError:
            continue
        if any(u.get("id") == user for u in root.iter("user")):
            found.append(f)
    return found


def expand_includes(text: str, cwd: Path) -> str:
    """FreeSWITCH's preprocessor for include lines, enough to check a result: a relative pattern is globbed
    in ``cwd`` (the including file's directory), recursively; each included file's ``<include>`` wrapper and
    ``<?`` lines are dropped and other ``X-PRE-PROCESS`` lines (``set``…) consumed, as switch_xml.c does.
    A pattern matching nothing includes nothing."""
    out = []
    for line in text.splitlines():
        m = re.search(r'<X-PRE-PROCESS cmd="include" data="([^"]+)"/>', line)
        if not m:
            if "<X-PRE-PROCESS" not in line:
                out.append(line)
            continue
        pattern = m.group(1)
        base = Path("/") if pattern.startswith("/") else cwd
        for f in sorted(base.glob(pattern.lstrip("/"))):
            inner = expand_includes(f.read_text(encoding="utf-8"), f.parent)
            out += [x for x in inner.splitlines() if "<include>" not in x and "</include>" not in x and "<?" not in x]
    return "\n".join(out)


def _attr(value: str) -> str:
    return (value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;"))
