"""Shared paths and helpers of the deployment tests (tests/test_deploy_conf.py, tests/test_deploy_vagrant.py)."""
from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

REPO = Path(__file__).resolve().parent.parent
CONF = REPO / "freeswitch-conf"
VAGRANT = REPO / "vagrant"
PROVISION = VAGRANT / "provision.sh"
DIALPLAN = CONF / "dialplan" / "default" / "fsbridge.xml"
PROFILE = CONF / "autoload_configs" / "conference_profiles" / "fsbridge.xml"
ESL_CONF = CONF / "autoload_configs" / "event_socket.conf.xml"
SAMPLE_TOML = CONF / "fsbridge.toml.example"
UNITS = [CONF / "fsbridge.service", VAGRANT / "fsbridge-example-app.service"]
XML_FILES = sorted(CONF.rglob("*.xml"))


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False)


def _parse(path: Path) -> etree._ElementTree:
    return etree.parse(str(path), _parser())


def _defaults():
    """(outbound host, outbound port, ESL port, rate) of fsbridge's default settings."""
    try:
        from fsbridge.config import Settings
    except ImportError:  # pragma: no cover - the settings module is part of the package
        return "127.0.0.1", 8084, 8021, 16000
    s = Settings()
    return s.outbound_host, s.outbound_port, s.esl_port, s.rate


def _standalone_energy_level() -> int:
    try:
        from fsbridge.engines.standalone.talk import DEFAULT_ENERGY_LEVEL
    except ImportError:  # pragma: no cover
        return 100
    return DEFAULT_ENERGY_LEVEL


def _params(element) -> dict:
    out = {}
    for p in element.findall("param"):
        assert p.get("name") not in out, f"duplicate param {p.get('name')}"
        out[p.get("name")] = p.get("value")
    return out



def _provision_toml() -> str:
    text = PROVISION.read_text()
    m = re.search(r"<<TOML\n(.*?)\nTOML\n", text, re.S)
    assert m, "provision.sh writes /etc/fsbridge/fsbridge.toml from a TOML heredoc"
    return m.group(1).replace("$ACCOUNT_SID", "AC" + "0" * 32).replace("$AUTH_TOKEN", "t" * 32)


