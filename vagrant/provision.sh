#!/usr/bin/env bash
# Provision the fsbridge VM (Debian 12): FreeSWITCH from SignalWire's official Debian repository (with YOUR
# SignalWire Personal Access Token), fsbridge's freeswitch-conf/ on top of the stock configuration, fsbridge
# in a virtualenv (/opt/fsbridge) as a systemd service, and the example app the two example numbers use.
#
# Run by `vagrant up` / `vagrant provision` (see vagrant/Vagrantfile); idempotent. Inputs (environment):
#   SIGNALWIRE_TOKEN     required: a SignalWire Personal Access Token (pat_...), never stored in the repo
#   FSBRIDGE_VM_IP       the VM's private-network address; SIP and RTP bind here (default 192.168.56.10)
#   FSBRIDGE_EXTERNAL_IP optional: the address phones use when they reach the VM through the host's forwarded
#                        ports (your host's LAN address); advertised in SIP/SDP
#   FSBRIDGE_SRC         fsbridge's source tree in the VM (default /opt/fsbridge-src, the synced folder)
# Secrets it generates are kept in /etc/fsbridge/secrets.env (mode 0600) and reused on the next run.
set -euo pipefail

SRC=${FSBRIDGE_SRC:-/opt/fsbridge-src}
VM_IP=${FSBRIDGE_VM_IP:-192.168.56.10}
EXTERNAL_IP=${FSBRIDGE_EXTERNAL_IP:-}
RTP_START=16384
RTP_END=16484
FS_CONF=/etc/freeswitch
MARK="fsbridge-provision"

die() { echo "provision.sh: $*" >&2; exit 1; }
log() { echo "==> $*"; }


# --- VM-only edits to the stock FreeSWITCH configuration (functions, so tests/test_deploy_vagrant.py can run
# them on stand-ins); fsbridge's own configuration goes in with `fsbridge setup freeswitch` ---

# rtp-start-port / rtp-end-port in switch.conf.xml, whether the stock lines are commented out or not.
fs_set_rtp_range() {
  local file=$1 start=$2 end=$3
  sed -i -E \
    -e "s#^([[:space:]]*)(<!--[[:space:]]*)?<param name=\"rtp-start-port\" value=\"[0-9]+\"/>([[:space:]]*-->)?#\1<param name=\"rtp-start-port\" value=\"$start\"/>#" \
    -e "s#^([[:space:]]*)(<!--[[:space:]]*)?<param name=\"rtp-end-port\" value=\"[0-9]+\"/>([[:space:]]*-->)?#\1<param name=\"rtp-end-port\" value=\"$end\"/>#" \
    "$file"
  grep -q "^[[:space:]]*<param name=\"rtp-start-port\" value=\"$start\"/>" "$file" &&
    grep -q "^[[:space:]]*<param name=\"rtp-end-port\" value=\"$end\"/>" "$file"
}

# vars.xml: SIP/RTP on the given address (local_ip_v4 is what the stock internal SIP profile binds to and
# what the stock domain is set from) and a default_password of our own: the stock one (1234) is known to
# everyone and makes the stock dialplan sleep 10 s on every call.
fs_set_vars() {
  local file=$1 ip=$2 password=$3
  sed -i "s/data=\"default_password=[^\"]*\"/data=\"default_password=$password\"/" "$file"
  sed -i "/$MARK/d" "$file"
  sed -i "0,/<include>/s##<include>\n  <X-PRE-PROCESS cmd=\"set\" data=\"local_ip_v4=$ip\"/> <!-- $MARK -->#" "$file"
  grep -q "data=\"local_ip_v4=$ip\"" "$file" && grep -q "data=\"default_password=$password\"" "$file"
}

main() {
  if [ -z "${SIGNALWIRE_TOKEN:-}" ]; then
    cat >&2 <<'MSG'
provision.sh: SIGNALWIRE_TOKEN is not set.

FreeSWITCH's Debian packages come from SignalWire's repository, which needs your own (free) SignalWire
Personal Access Token: create one at signalwire.com (Personal Access Tokens), then run

    SIGNALWIRE_TOKEN=pat_... vagrant up          (or: SIGNALWIRE_TOKEN=pat_... vagrant provision)

The token is passed to this script only; it is written nowhere but /etc/apt/auth.conf.d/freeswitch.conf
inside the VM (mode 0600), where apt needs it.
MSG
    exit 2
  fi
  [ "$(id -u)" = 0 ] || die "run as root (vagrant runs it with sudo)"

  [ -d "$SRC/freeswitch-conf" ] || die "fsbridge source not found at $SRC (the Vagrantfile syncs the checkout there)"

  export DEBIAN_FRONTEND=noninteractive

  # --- 1. FreeSWITCH from SignalWire's repository (the documented freeswitch.signalwire.com steps) --------------
  # shellcheck source=/dev/null
  . /etc/os-release
  log "Debian ${VERSION_CODENAME}: base packages"
  apt-get update -qq
  apt-get install -y -qq curl gnupg ca-certificates openssl python3-venv python3-dev libsndfile1 espeak-ng >/dev/null

  log "SignalWire FreeSWITCH repository"
  install -d -m 0755 /etc/apt/auth.conf.d
  umask 077
  printf 'machine freeswitch.signalwire.com login signalwire password %s\n' "$SIGNALWIRE_TOKEN" \
    > /etc/apt/auth.conf.d/freeswitch.conf
  umask 022
  chmod 600 /etc/apt/auth.conf.d/freeswitch.conf
  # The same netrc line authenticates the keyring download, so the token never appears on a command line.
  curl -fsSL --netrc-file /etc/apt/auth.conf.d/freeswitch.conf \
    -o /usr/share/keyrings/signalwire-freeswitch-repo.gpg \
    https://freeswitch.signalwire.com/repo/deb/debian-release/signalwire-freeswitch-repo.gpg \
    || die "could not download SignalWire's keyring: is SIGNALWIRE_TOKEN a valid Personal Access Token?"
  echo "deb [signed-by=/usr/share/keyrings/signalwire-freeswitch-repo.gpg] https://freeswitch.signalwire.com/repo/deb/debian-release/ ${VERSION_CODENAME} main" \
    > /etc/apt/sources.list.d/freeswitch.list
  apt-get update -qq
  log "apt-get install freeswitch-meta-all (FreeSWITCH, mod_conference, mod_event_socket, mod_sofia, sounds, music)"
  apt-get install -y -qq freeswitch-meta-all >/dev/null

  if [ ! -f "$FS_CONF/freeswitch.xml" ]; then
    log "stock (vanilla) configuration into $FS_CONF"
    install -d "$FS_CONF"
    cp -a /usr/share/freeswitch/conf/vanilla/. "$FS_CONF/"
  fi

  # --- 2. secrets (generated once, reused) -------------------------------------------------------------------------
  install -d -m 0755 /etc/fsbridge
  SECRETS=/etc/fsbridge/secrets.env
  if [ ! -f "$SECRETS" ]; then
    umask 077
    {
      echo "ESL_PASSWORD=$(openssl rand -hex 24)"
      echo "DEFAULT_PASSWORD=$(openssl rand -hex 12)"
      echo "SIP_PASSWORD_1100=$(openssl rand -hex 6)"
      echo "SIP_PASSWORD_1101=$(openssl rand -hex 6)"
      echo "ACCOUNT_SID=AC$(openssl rand -hex 16)"
      echo "AUTH_TOKEN=$(openssl rand -hex 16)"
    } > "$SECRETS"
    umask 022
  fi
  # shellcheck source=/dev/null
  . "$SECRETS"

  # --- 3. fsbridge in /opt/fsbridge -----------------------------------------------------------------------------------
  log "fsbridge into the virtualenv /opt/fsbridge"
  getent group fsbridge >/dev/null || groupadd --system fsbridge
  getent passwd fsbridge >/dev/null || useradd --system --gid fsbridge --home-dir /var/lib/fsbridge \
    --shell /usr/sbin/nologin fsbridge
  # to read the recordings FreeSWITCH (user/group freeswitch, umask 0007) writes
  usermod -a -G freeswitch fsbridge
  [ -x /opt/fsbridge/bin/python ] || python3 -m venv /opt/fsbridge
  /opt/fsbridge/bin/python -m pip install -q --upgrade pip
  /opt/fsbridge/bin/python -m pip install -q "$SRC"
  install -m 0644 "$SRC/vagrant/example_app.py" /opt/fsbridge/example_app.py

  install -d -o fsbridge -g fsbridge -m 0755 /var/lib/fsbridge /var/lib/fsbridge/audio
  # FreeSWITCH writes the recordings, fsbridge serves them.
  install -d -o fsbridge -g freeswitch -m 2775 /var/lib/fsbridge/recordings

  # The VM's own fsbridge.toml (setup keeps an existing one): the example app's numbers, the API on 0.0.0.0.
  log "/etc/fsbridge/fsbridge.toml"
  umask 027
  cat > /etc/fsbridge/fsbridge.toml <<TOML
# Written by vagrant/provision.sh (re-provisioning rewrites it). Keys: docs/runtime.md.
[server]
# 0.0.0.0 inside the VM so the host's forwarded port 127.0.0.1:8080 reaches it (the VM itself is only on a
# private network); REST calls need AccountSid:AuthToken.
host = "0.0.0.0"
port = 8080

[storage]
database_url = "sqlite:////var/lib/fsbridge/fsbridge.sqlite"
audio_dir = "/var/lib/fsbridge/audio"
recordings_dir = "/var/lib/fsbridge/recordings"

[engine]
type = "freeswitch"
rate = 16000

[freeswitch]
esl_host = "127.0.0.1"
esl_port = 8021
outbound_host = "127.0.0.1"
outbound_port = 8084

[egress]
# The example app listens on this VM's loopback (127.0.0.1:8090): outgoing HTTP to loopback is denied unless
# allowed (docs/security.md).
allow = ["127.0.0.0/8"]

[[accounts]]
sid = "$ACCOUNT_SID"
auth_token = "$AUTH_TOKEN"

[[numbers]]
number = "7200"
voice_url = "http://127.0.0.1:8090/voice/team"
dialect = "twiml"

[[numbers]]
number = "7201"
voice_url = "http://127.0.0.1:8090/voice/waiting"
dialect = "twiml"
TOML
  umask 022
  chown root:fsbridge /etc/fsbridge/fsbridge.toml
  chmod 0640 /etc/fsbridge/fsbridge.toml

  # --- 4. fsbridge's FreeSWITCH configuration: the same command as README's install --------------------------------
  # ESL on 127.0.0.1:8021 with our password, the fsbridge profile + include, the 7200-7299 dialplan, desk
  # phones 1100/1101, /etc/fs_cli.conf, /etc/fsbridge/fsbridge.env, the fsbridge systemd unit; idempotent.
  log "fsbridge setup freeswitch"
  FSBRIDGE_ESL_PASSWORD="$ESL_PASSWORD" FSBRIDGE_SIP_PASSWORD_1100="$SIP_PASSWORD_1100" \
    FSBRIDGE_SIP_PASSWORD_1101="$SIP_PASSWORD_1101" \
    /opt/fsbridge/bin/fsbridge setup freeswitch --fs-conf "$FS_CONF" --source "$SRC/freeswitch-conf" \
    --phones 1100,1101 || die "fsbridge setup freeswitch refused (see above)"

  # VM only: SIP/RTP on the private address, a default_password of our own, a small RTP range
  VARS="$FS_CONF/vars.xml"
  fs_set_vars "$VARS" "$VM_IP" "$DEFAULT_PASSWORD" || die "could not edit $VARS"

  SWITCH_CONF="$FS_CONF/autoload_configs/switch.conf.xml"
  fs_set_rtp_range "$SWITCH_CONF" "$RTP_START" "$RTP_END" || die "could not set the RTP port range in $SWITCH_CONF"

  if [ -n "$EXTERNAL_IP" ]; then
    # Phones that come in through the host's forwarded ports must be told the host's address.
    sed -i -E \
      -e "s#<param name=\"ext-rtp-ip\" value=\"[^\"]*\"/>#<param name=\"ext-rtp-ip\" value=\"$EXTERNAL_IP\"/>#" \
      -e "s#<param name=\"ext-sip-ip\" value=\"[^\"]*\"/>#<param name=\"ext-sip-ip\" value=\"$EXTERNAL_IP\"/>#" \
      "$FS_CONF/sip_profiles/internal.xml"
  fi

  # SIP binds to the private-network address: start FreeSWITCH only once the network is up (reboots).
  install -d /etc/systemd/system/freeswitch.service.d
  printf '[Unit]\nWants=network-online.target\nAfter=network-online.target\n' \
    > /etc/systemd/system/freeswitch.service.d/fsbridge-network.conf
  systemctl daemon-reload

  log "restarting FreeSWITCH (ESL address/password and RTP range need a restart)"
  systemctl enable freeswitch >/dev/null 2>&1 || true
  systemctl restart freeswitch
  for _ in $(seq 1 60); do
    fs_cli -x status >/dev/null 2>&1 && break
    sleep 1
  done
  fs_cli -x status >/dev/null 2>&1 || die "FreeSWITCH's event socket does not answer: journalctl -u freeswitch"
  fs_cli -x 'reloadxml' >/dev/null

  log "systemd services fsbridge and fsbridge-example-app"
  install -m 0644 "$SRC/vagrant/fsbridge-example-app.service" /etc/systemd/system/fsbridge-example-app.service
  systemctl daemon-reload
  systemctl enable fsbridge fsbridge-example-app >/dev/null 2>&1
  systemctl restart fsbridge fsbridge-example-app
  sleep 3
  systemctl is-active --quiet fsbridge || die "fsbridge did not start: journalctl -u fsbridge"
  # every check of README's Troubleshooting section; a failure is printed with its fix
  /opt/fsbridge/bin/fsbridge doctor --config /etc/fsbridge/fsbridge.toml || log "fsbridge doctor reported problems (above)"

  # --- 5. how to dial in ------------------------------------------------------------------------------------------------
  VIA=""
  [ -n "$EXTERNAL_IP" ] && VIA="   (through the host's forwarded ports: $EXTERNAL_IP)"
  cat <<DONE

================================================================================================
 fsbridge is running next to FreeSWITCH in this VM.

 Register a desk phone (or a softphone) - SIP over UDP or TCP, port 5060:
   server / domain : $VM_IP$VIA
   user 1100       : password $SIP_PASSWORD_1100
   user 1101       : password $SIP_PASSWORD_1101
 Then dial
   7200  -> the example Team Meeting room (TwiML from /voice/team)
   7201  -> the example customer waiting room (/voice/waiting)

 REST API (from the host): http://127.0.0.1:8080/2010-04-01/Accounts/$ACCOUNT_SID/Conferences.json
   Basic auth $ACCOUNT_SID : $AUTH_TOKEN
 Logs: vagrant ssh -c 'journalctl -u fsbridge -u freeswitch -f'
 Secrets: /etc/fsbridge/secrets.env in the VM (mode 0600).
================================================================================================
DONE
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  main "$@"
fi
