"""A stand-in for FreeSWITCH's stock "vanilla" configuration tree (what SignalWire's packages put in
/etc/freeswitch), written by the tests: minimal files of the same structure and the same shapes where
``fsbridge setup freeswitch`` reads or edits them (written for these tests, not copied from FreeSWITCH).

:func:`write_vanilla` makes the tree; :func:`load_config` runs the include preprocessor over freeswitch.xml
the way FreeSWITCH does (relative includes globbed in the including file's directory) and parses the
result, so a test sees what FreeSWITCH would load.
"""
from __future__ import annotations

import argparse
import io
from pathlib import Path
from typing import Dict

from lxml import etree

from fsbridge.ops import setup_freeswitch
from fsbridge.ops.fsconf import expand_includes, parser

FILES: Dict[str, str] = {
    "freeswitch.xml": """<?xml version="1.0"?>
<document type="freeswitch/xml">
  <X-PRE-PROCESS cmd="include" data="vars.xml"/>
  <section name="configuration" description="Various Configuration">
    <X-PRE-PROCESS cmd="include" data="autoload_configs/*.xml"/>
  </section>
  <section name="dialplan" description="Regex/XML Dialplan">
    <X-PRE-PROCESS cmd="include" data="dialplan/*.xml"/>
  </section>
  <section name="directory" description="User Directory">
    <X-PRE-PROCESS cmd="include" data="directory/*.xml"/>
  </section>
</document>
""",
    "vars.xml": """<include>
  <X-PRE-PROCESS cmd="set" data="default_password=1234"/>
  <X-PRE-PROCESS cmd="set" data="domain=$${local_ip_v4}"/>
  <X-PRE-PROCESS cmd="set" data="hold_music=local_stream://moh"/>
</include>
""",
    "autoload_configs/conference.conf.xml": """<!-- stand-in of the stock conference.conf.xml -->
<configuration name="conference.conf" description="Audio Conference">
  <caller-controls>
    <group name="default">
      <control action="mute" digits="0"/>
      <control action="deaf mute" digits="*"/>
    </group>
  </caller-controls>

  <!-- Profiles are collections of settings you can reference by name. -->
  <profiles>
    <!--If no profile is specified it will default to "default"-->
    <profile name="default">
      <param name="rate" value="8000"/>
      <param name="energy-level" value="300"/>
    </profile>
    <profile name="wideband">
      <param name="rate" value="16000"/>
    </profile>
  </profiles>
</configuration>
""",
    "autoload_configs/event_socket.conf.xml": """<configuration name="event_socket.conf" description="Socket Client">
  <settings>
    <param name="nat-map" value="false"/>
    <param name="listen-ip" value="::"/>
    <param name="listen-port" value="8021"/>
    <param name="password" value="ClueCon"/>
    <!--<param name="apply-inbound-acl" value="loopback.auto"/>-->
    <!--<param name="stop-on-bind-error" value="true"/>-->
  </settings>
</configuration>
""",
    "autoload_configs/switch.conf.xml": """<configuration name="switch.conf" description="Core Configuration">
  <settings>
    <param name="max-sessions" value="1000"/>
    <!-- <param name="rtp-start-port" value="16384"/> -->
    <!-- <param name="rtp-end-port" value="32768"/> -->
  </settings>
</configuration>
""",
    "autoload_configs/modules.conf.xml": """<configuration name="modules.conf" description="Modules">
  <modules>
    <load module="mod_event_socket"/>
    <load module="mod_conference"/>
  </modules>
</configuration>
""",
    "dialplan/default.xml": """<include>
  <context name="default">
    <extension name="rtp_multicast_page">
      <condition field="destination_number" expression="^pagegroup$|^7243$">
        <action application="answer"/>
      </condition>
    </extension>
    <X-PRE-PROCESS cmd="include" data="default/*.xml"/>
    <extension name="enum">
      <condition field="destination_number" expression="^(.*)$">
        <action application="transfer" data="$1 enum"/>
      </condition>
    </extension>
  </context>
</include>
""",
    "dialplan/default/01_example.com.xml": """<include>
  <extension name="example.com">
    <condition field="destination_number" expression="^(10[01][0-9])$">
      <action application="bridge" data="user/$1"/>
    </condition>
  </extension>
</include>
""",
    "directory/default.xml": """<include>
  <domain name="$${domain}">
    <params>
      <param name="dial-string" value="{presence_id=${dialed_user}@${dialed_domain}}${sofia_contact(${dialed_user}@${dialed_domain})}"/>
    </params>
    <groups>
      <group name="default">
        <users>
          <X-PRE-PROCESS cmd="include" data="default/*.xml"/>
        </users>
      </group>
    </groups>
  </domain>
</include>
""",
    "directory/default/1000.xml": """<include>
  <user id="1000">
    <params>
      <param name="password" value="$${default_password}"/>
    </params>
  </user>
</include>
""",
    "sip_profiles/internal.xml": """<profile name="internal">
  <settings>
    <param name="rtp-ip" value="$${local_ip_v4}"/>
    <param name="ext-rtp-ip" value="auto-nat"/>
  </settings>
</profile>
""",
}


def write_vanilla(conf: Path) -> Path:
    """Write the stand-in tree under ``conf`` (created) and return it."""
    for rel, text in FILES.items():
        path = conf / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return conf


def load_config(conf: Path) -> etree._Element:
    """freeswitch.xml with every include expanded as FreeSWITCH does, parsed (XMLSyntaxError if not)."""
    text = expand_includes((conf / "freeswitch.xml").read_text(encoding="utf-8"), conf)
    lines = [x for x in text.splitlines() if not x.startswith("<?xml")]
    return etree.fromstring("\n".join(lines).encode("utf-8"), parser())


def snapshot(root: Path) -> Dict[str, tuple]:
    """{relative path: (bytes, mode)} of every file under ``root`` (a tree to compare before/after)."""
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mode & 0o7777)
            for p in sorted(root.rglob("*")) if p.is_file()}


def setup(tree: Path, *extra: str, env=None):
    """``fsbridge setup freeswitch`` (parser + run, in process) on a test tree: ``tree/etc/freeswitch`` (the
    conf dir), ``tree/etc/fsbridge``, ``tree/systemd``, ``tree/etc/fs_cli.conf``; ``env`` the environment
    (default empty). Returns (exit status, output)."""
    parser = argparse.ArgumentParser()
    setup_freeswitch.add_arguments(parser)
    args = parser.parse_args(["freeswitch", "--fs-conf", str(tree / "etc" / "freeswitch"), "--etc",
                              str(tree / "etc" / "fsbridge"), "--systemd-dir", str(tree / "systemd"),
                              "--fs-cli-conf", str(tree / "etc" / "fs_cli.conf"), *extra])
    out = io.StringIO()
    status = setup_freeswitch.run(args, out=out, env=env or {})
    return status, out.getvalue()
