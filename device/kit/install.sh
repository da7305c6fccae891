#!/bin/sh
# DeviceStreams device installer, served by the hub at /install.sh with the hub's address and its
# kit version filled in. Paste the line the console or `devicestreams device enroll-token` prints;
# it checks the hub's CA against --ca-sha256 before trusting anything it downloads.
#
#   sh install.sh --token TOKEN --ca-sha256 FINGERPRINT [--prefix DIR] [--no-systemd]
#   sh install.sh --uninstall [--prefix DIR]
#
# Installs the device kit under PREFIX (default /opt/devicestreams):
#   PREFIX/versions/VERSION/   the kit; PREFIX/current links to the one in use
#   PREFIX/etc/agent.json      the device's identity and mappings, mode 600, owned by the agent's account
#   PREFIX/etc/ca.pem          the hub's CA;  PREFIX/etc/install.env  what this script set up
#   PREFIX/run/                the shell and file servers' sockets (mode 700, the agent's account)
#   PREFIX/home/, PREFIX/files/  the shells' home and the file server's root (the agent's account)
#   PREFIX/log/, PREFIX/pid/   logs and pid files when there is no systemd
# Run as root, only run/, home/ and files/ (and agent.json) belong to the agent's account: what root
# later reads, sources, appends to or kills (install.env, ca.pem, logs, pid files) is not the
# account's to replace.
# Run again, it upgrades the kit in place and keeps the identity (a token is then not needed).
set -eu

HUB='__DS_HUB_URL__'
KIT_VERSION='__DS_KIT_VERSION__'
PREFIX=/opt/devicestreams
TOKEN=
CA_SHA256=
SYSTEMD=1
UNINSTALL=0
PRINT_UNITS=0
DEVICE_ID=
RUN_USER=
UNITS='devicestreams-agent devicestreams-shell devicestreams-files'
UNIT_DIR=/etc/systemd/system

say() { printf 'devicestreams: %s\n' "$*" >&2; }
die() { printf 'devicestreams: error: %s\n' "$*" >&2; exit 1; }

usage() {
  cat <<'EOF'
Usage: sh install.sh --token TOKEN --ca-sha256 FINGERPRINT [options]
       sh install.sh --uninstall [--prefix DIR]

Options:
  --token TOKEN          the one-use enrollment token (not needed to upgrade an installed device)
  --ca-sha256 HEX        SHA-256 of the hub's CA certificate (DER), lower-case hex: the hub's CA is
                         used only when it matches (omit for a hub with a publicly trusted certificate)
  --prefix DIR           where to install (default /opt/devicestreams)
  --no-systemd           no systemd units: start the agent and servers in the background
  --user NAME            the account the agent runs as (default devicestreams, created when missing;
                         without root, the current account)
  --device-id ID         the id to enroll as, for a token made for a name pattern
  --name-from-hostname   enroll as this machine's host name (for a pattern token)
  --hub URL              the hub's address (default: the hub this script came from)
  --uninstall            stop and remove everything this script installed under --prefix
  --print-units          print the systemd units it would install, and exit
  -h, --help             this help
EOF
}

while [ $# -gt 0 ]; do
  case $1 in
    --token) [ $# -ge 2 ] || die "--token needs a value"; TOKEN=$2; shift 2 ;;
    --ca-sha256) [ $# -ge 2 ] || die "--ca-sha256 needs a value"; CA_SHA256=$2; shift 2 ;;
    --prefix) [ $# -ge 2 ] || die "--prefix needs a value"; PREFIX=$2; shift 2 ;;
    --user) [ $# -ge 2 ] || die "--user needs a value"; RUN_USER=$2; shift 2 ;;
    --device-id) [ $# -ge 2 ] || die "--device-id needs a value"; DEVICE_ID=$2; shift 2 ;;
    --hub) [ $# -ge 2 ] || die "--hub needs a value"; HUB=$2; shift 2 ;;
    --name-from-hostname) DEVICE_ID=$(uname -n); shift ;;
    --no-systemd) SYSTEMD=0; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    --print-units) PRINT_UNITS=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

case $PREFIX in
  /*) ;;
  *) PREFIX=$(pwd)/$PREFIX ;;
esac
PREFIX=${PREFIX%/}
# The prefix goes into unit files and socket paths unquoted.
case $PREFIX in
  *[!A-Za-z0-9/._-]*|'') die "--prefix $PREFIX: use letters, digits and / . _ - only" ;;
esac
case $PREFIX in
  /usr|/usr/local|/opt|/etc|/var|/home|/tmp) die "--prefix $PREFIX: give a directory of its own (e.g. /opt/devicestreams)" ;;
esac
HUB=${HUB%/}

IS_ROOT=0
[ "$(id -u)" -eq 0 ] && IS_ROOT=1
if [ -z "$RUN_USER" ]; then
  if [ "$IS_ROOT" -eq 1 ]; then RUN_USER=devicestreams; else RUN_USER=$(id -un); fi
fi
NODE=$(command -v node || command -v nodejs || true)
SHELL_PROGRAM=/bin/bash
[ -x "$SHELL_PROGRAM" ] || SHELL_PROGRAM=/bin/sh
KIT="$PREFIX/current/bin/devicestreams-device"

# ---- systemd units ---------------------------------------------------------------------------
unit_agent() {
  cat <<EOF
[Unit]
Description=DeviceStreams agent: the device's connection to the hub
Documentation=$HUB
Wants=network-online.target
After=network-online.target devicestreams-shell.service devicestreams-files.service

[Service]
Type=simple
User=$RUN_USER
ExecStart=$NODE $KIT agent --config $PREFIX/etc/agent.json
Restart=on-failure
RestartSec=5
NoNewPrivileges=true

[Install]
WantedBy=multi-user.target
EOF
}

unit_shell() {
  cat <<EOF
[Unit]
Description=DeviceStreams shell server: terminals for the console, on a private Unix socket
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=$RUN_USER
WorkingDirectory=$PREFIX/home
ExecStart=$NODE $KIT shell-server --listen unix:$PREFIX/run/shell.sock --shell $SHELL_PROGRAM --cwd $PREFIX/home --env HOME=$PREFIX/home
Restart=on-failure
RestartSec=5

[Install]
WantedBy=multi-user.target
EOF
}

unit_files() {
  cat <<EOF
[Unit]
Description=DeviceStreams file server: files in $PREFIX/files for devicestreams cp
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=$RUN_USER
ExecStart=$NODE $KIT file-server --root $PREFIX/files --listen unix:$PREFIX/run/files.sock
Restart=on-failure
RestartSec=5
NoNewPrivileges=true

[Install]
WantedBy=multi-user.target
EOF
}

if [ "$PRINT_UNITS" -eq 1 ]; then
  [ -n "$NODE" ] || NODE=/usr/bin/node
  for u in agent shell files; do
    printf '### devicestreams-%s.service\n' "$u"
    "unit_$u"
  done
  exit 0
fi

# ---- stopping what runs ------------------------------------------------------------------------
# Stops the background processes started without systemd: each pid file's process, when it is
# still ours (its command line names this prefix; a pid may have been reused since).
stop_background() {
  for f in "$PREFIX"/pid/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if [ -n "$pid" ] && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$PREFIX/"; then
      kill "$pid" 2>/dev/null || true
      i=0
      while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
      kill -9 "$pid" 2>/dev/null || true
      say "stopped the $(basename "$f" .pid) process (pid $pid)"
    fi
    rm -f "$f"
  done
}

stop_units() {
  for u in $UNITS; do
    if [ -f "$UNIT_DIR/$u.service" ]; then systemctl stop "$u" 2>/dev/null || true; fi
  done
}

# A NAME=0|1 or NAME=word setting of install.env, read (never sourced: it is data, not a script).
setting() {
  sed -n "s/^$1=\\([A-Za-z0-9._-]*\\)\$/\\1/p" "$PREFIX/etc/install.env" | head -n 1
}

# ---- uninstall ---------------------------------------------------------------------------------
if [ "$UNINSTALL" -eq 1 ]; then
  [ -f "$PREFIX/etc/install.env" ] || die "$PREFIX has no etc/install.env: it is not a DeviceStreams device installation; nothing removed"
  INSTALLED_SYSTEMD=$(setting INSTALLED_SYSTEMD)
  CREATED_USER=$(setting CREATED_USER)
  INSTALLED_USER=$(setting INSTALLED_USER)
  case $INSTALLED_USER in
    *[!A-Za-z0-9._-]*) die "$PREFIX/etc/install.env names the account '$INSTALLED_USER', which is not an account name; nothing removed" ;;
  esac
  if [ "$INSTALLED_SYSTEMD" = 1 ]; then
    [ "$IS_ROOT" -eq 1 ] || die "removing the systemd units needs root"
    for u in $UNITS; do
      if [ -f "$UNIT_DIR/$u.service" ]; then
        systemctl disable --now "$u" >/dev/null 2>&1 || true
        rm -f "$UNIT_DIR/$u.service"
        say "removed the systemd unit $u"
      fi
    done
    systemctl daemon-reload 2>/dev/null || true
  fi
  stop_background
  rm -rf "$PREFIX"
  say "removed $PREFIX (the kit, the device's identity and configuration, logs and files)"
  if [ "$CREATED_USER" = 1 ] && [ -n "$INSTALLED_USER" ] && id "$INSTALLED_USER" >/dev/null 2>&1; then
    userdel "$INSTALLED_USER" && say "removed the account $INSTALLED_USER"
  fi
  say "uninstalled; the device stays registered on the hub until an admin deletes it"
  exit 0
fi

# ---- checks before anything changes ------------------------------------------------------------
for tool in curl tar gzip sha256sum sed base64 cut; do
  command -v "$tool" >/dev/null 2>&1 || die "this installer needs $tool; install it and run the command again"
done
[ -n "$NODE" ] || die "this device has no Node.js (node); install Node.js 18.19 or newer (e.g. apt-get install nodejs) and run the command again"
if [ "$SYSTEMD" -eq 1 ]; then
  [ "$IS_ROOT" -eq 1 ] || die "installing systemd units needs root: run the command as root (sudo sh -c '…'), or add --no-systemd to run the agent as $(id -un)"
  command -v systemctl >/dev/null 2>&1 || die "this device has no systemctl: add --no-systemd"
fi
if [ "$IS_ROOT" -eq 0 ] && [ "$RUN_USER" != "$(id -un)" ]; then die "--user $RUN_USER: running as another account needs root"; fi
if [ "$IS_ROOT" -eq 1 ] && [ "$SYSTEMD" -eq 0 ] && ! command -v setpriv >/dev/null 2>&1; then
  die "without systemd, root starts the agent as $RUN_USER with setpriv (util-linux), which this device lacks: install it, or leave out --no-systemd"
fi
case $HUB in
  https://*|http://*) ;;
  *) die "the hub address '$HUB' is not https://HOST[:PORT]; pass --hub" ;;
esac

HAS_IDENTITY=0
[ -f "$PREFIX/etc/agent.json" ] && HAS_IDENTITY=1
[ "$HAS_IDENTITY" -eq 1 ] || [ -n "$TOKEN" ] || die "no --token: an admin makes one with 'devicestreams device enroll-token ID' or the console's Add device"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM
CACERT=

# Downloads $1 to $2 over the verified connection; an HTTP error prints the hub's answer.
fetch() {
  rc=0
  if [ -n "$CACERT" ]; then
    code=$(curl -sS --cacert "$CACERT" -o "$2" -w '%{http_code}' "$1") || rc=$?
  else
    code=$(curl -sS -o "$2" -w '%{http_code}' "$1") || rc=$?
  fi
  if [ "$rc" -eq 60 ] && [ -z "$CACERT" ]; then
    die "this machine does not trust the hub's certificate: pass --ca-sha256 with the fingerprint of the hub's CA (the install line the hub prints has it)"
  fi
  [ "$rc" -eq 0 ] || die "cannot download $1 (curl exit $rc; see its message above)"
  case $code in
    2??) ;;
    *) die "the hub answered HTTP $code to $1: $(head -c 600 "$2")" ;;
  esac
}

if [ -n "$CA_SHA256" ]; then
  CA_SHA256=$(printf '%s' "$CA_SHA256" | tr 'A-F' 'a-f')
  case $CA_SHA256 in
    *[!0-9a-f]*) die "--ca-sha256 must be 64 hex digits" ;;
  esac
  [ ${#CA_SHA256} -eq 64 ] || die "--ca-sha256 must be 64 hex digits"
  # Fetched without verification on purpose: it is trusted only once its fingerprint matches.
  curl -fsSk -o "$TMP/ca.pem" "$HUB/ca.pem" || die "cannot download the hub's CA from $HUB/ca.pem"
  got=$(sed '/-----/d' "$TMP/ca.pem" | base64 -d 2>/dev/null | sha256sum | cut -c1-64)
  [ "$got" = "$CA_SHA256" ] || die "the hub's CA certificate has SHA-256 $got, not $CA_SHA256 (--ca-sha256): this is not the hub the command was made for, or something between you and it answered instead. Nothing was changed."
  CACERT=$TMP/ca.pem
  say "the hub's CA matches --ca-sha256"
elif [ -f "$PREFIX/etc/ca.pem" ]; then
  cp "$PREFIX/etc/ca.pem" "$TMP/ca.pem"
  CACERT=$TMP/ca.pem
fi

# ---- the kit -----------------------------------------------------------------------------------
[ -n "$KIT_VERSION" ] || die "the hub at $HUB has no device kit: on the hub, run 'npm run build:device' (npm start builds it), then run this command again"
case $(uname -m) in
  x86_64|amd64) ARCH=x64 ;;
  aarch64|arm64) ARCH=arm64 ;;
  *) die "no device kit for this machine's architecture ($(uname -m)); kits exist for x86_64 and aarch64" ;;
esac
NAME=devicestreams-device-$KIT_VERSION-linux-$ARCH
fetch "$HUB/device-kit/$NAME.tar.gz.sha256" "$TMP/kit.sha256"
fetch "$HUB/device-kit/$NAME.tar.gz" "$TMP/kit.tar.gz"
want=$(cut -c1-64 "$TMP/kit.sha256")
got=$(sha256sum "$TMP/kit.tar.gz" | cut -c1-64)
[ "$want" = "$got" ] || die "the kit's SHA-256 is $got, but the hub says $want: the download is damaged; run the command again"
mkdir "$TMP/kit"
tar -xzf "$TMP/kit.tar.gz" -C "$TMP/kit" || die "cannot unpack the kit"
[ -x "$TMP/kit/$NAME/bin/devicestreams-device" ] || die "the kit has no bin/devicestreams-device"
# The kit's launcher says which Node it needs when this one is too old.
"$NODE" "$TMP/kit/$NAME/bin/devicestreams-device" version >/dev/null || die "the kit cannot run with $NODE ($("$NODE" --version))"
say "downloaded the device kit $KIT_VERSION for linux-$ARCH ($(wc -c < "$TMP/kit.tar.gz") bytes, SHA-256 checked)"

# ---- the identity ------------------------------------------------------------------------------
if [ "$HAS_IDENTITY" -eq 1 ]; then
  say "keeping this device's identity in $PREFIX/etc/agent.json (upgrading in place)"
else
  # The token goes in on stdin; the key comes back only into the 0600 file, never through the shell.
  set -- --hub "$HUB" --prefix "$PREFIX" --out "$TMP/agent.json"
  [ -z "$CACERT" ] || set -- "$@" --ca "$CACERT"
  [ -z "$DEVICE_ID" ] || set -- "$@" --device-id "$DEVICE_ID"
  # It says which device it enrolled as on stderr; its stdout (DEVICE ID) is for scripts.
  printf '%s\n' "$TOKEN" | "$NODE" "$TMP/kit/$NAME/bin/devicestreams-device" enroll "$@" >/dev/null || die "enrollment failed (the reason is above); nothing was installed"
fi

# ---- the account -------------------------------------------------------------------------------
CREATED_USER=0
if [ -f "$PREFIX/etc/install.env" ]; then
  # An upgrade keeps the account the first install made (and will remove).
  CREATED_USER=$(setting CREATED_USER)
fi
if [ "$IS_ROOT" -eq 1 ] && ! id "$RUN_USER" >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir "$PREFIX/home" --shell /usr/sbin/nologin "$RUN_USER" || die "cannot create the account $RUN_USER"
  CREATED_USER=1
  say "created the system account $RUN_USER"
fi
RUN_GROUP=$(id -gn "$RUN_USER")

# ---- stop, install, start ----------------------------------------------------------------------
if [ "$SYSTEMD" -eq 1 ]; then stop_units; fi
stop_background
mkdir -p "$PREFIX/versions" "$PREFIX/etc" "$PREFIX/run" "$PREFIX/log" "$PREFIX/pid" "$PREFIX/home" "$PREFIX/files"
chmod 755 "$PREFIX" "$PREFIX/versions" "$PREFIX/etc"
chmod 700 "$PREFIX/run" "$PREFIX/log" "$PREFIX/pid" "$PREFIX/home" "$PREFIX/files"
rm -rf "$PREFIX/versions/$KIT_VERSION"
mv "$TMP/kit/$NAME" "$PREFIX/versions/$KIT_VERSION"
ln -sfn "versions/$KIT_VERSION" "$PREFIX/current"
for old in "$PREFIX"/versions/*; do
  [ "$old" = "$PREFIX/versions/$KIT_VERSION" ] || rm -rf "$old"
done
if [ "$HAS_IDENTITY" -eq 0 ]; then mv "$TMP/agent.json" "$PREFIX/etc/agent.json"; fi
[ -z "$CACERT" ] || cp "$CACERT" "$PREFIX/etc/ca.pem"
cat > "$PREFIX/etc/install.env" <<EOF
INSTALLED_USER=$RUN_USER
CREATED_USER=${CREATED_USER:-0}
INSTALLED_SYSTEMD=$SYSTEMD
KIT_VERSION=$KIT_VERSION
HUB=$HUB
EOF
chmod 600 "$PREFIX/etc/agent.json"
# Not recursive: what the account put inside its own directories stays as it is (a link it planted
# must not lead root to hand it something else).
chown "$RUN_USER:$RUN_GROUP" "$PREFIX/run" "$PREFIX/home" "$PREFIX/files"
chown -h "$RUN_USER:$RUN_GROUP" "$PREFIX/etc/agent.json"
say "installed the kit $KIT_VERSION in $PREFIX/versions/$KIT_VERSION ($PREFIX/current)"
# A copy of this script beside the kit, so that upgrading or removing it needs nothing from the hub's
# pages (when it runs from a file: `sh FILE`, as the install line does; not through a pipe).
if [ -f "$0" ] && [ -r "$0" ]; then
  cp "$0" "$PREFIX/install.sh.new" && chmod 755 "$PREFIX/install.sh.new" && mv -f "$PREFIX/install.sh.new" "$PREFIX/install.sh"
  say "kept this installer as $PREFIX/install.sh: 'sh $PREFIX/install.sh --uninstall --prefix $PREFIX' removes everything; to upgrade to the hub's newer kit, run the install line again (or the hub's install.sh without a token)"
fi

# Which of the kit's own servers the device's mappings use.
SERVICES=
grep -qF "shell=unix:$PREFIX/run/shell.sock" "$PREFIX/etc/agent.json" && SERVICES="$SERVICES shell"
grep -qF "files=unix:$PREFIX/run/files.sock" "$PREFIX/etc/agent.json" && SERVICES="$SERVICES files"

if [ "$SYSTEMD" -eq 1 ]; then
  unit_agent > "$UNIT_DIR/devicestreams-agent.service"
  unit_shell > "$UNIT_DIR/devicestreams-shell.service"
  unit_files > "$UNIT_DIR/devicestreams-files.service"
  systemctl daemon-reload
  for s in $SERVICES; do systemctl enable --now "devicestreams-$s" >/dev/null 2>&1 || die "cannot start devicestreams-$s (systemctl status devicestreams-$s)"; done
  systemctl enable --now devicestreams-agent >/dev/null 2>&1 || die "cannot start the agent (systemctl status devicestreams-agent)"
  say "started the systemd units devicestreams-agent$(for s in $SERVICES; do printf ' devicestreams-%s' "$s"; done); logs: journalctl -u devicestreams-agent"
  exit 0
fi

# Without systemd: a start script that this installer runs now and cron may run at boot.
AS_USER=
if [ "$IS_ROOT" -eq 1 ]; then AS_USER="setpriv --reuid=$RUN_USER --regid=$RUN_GROUP --init-groups"; fi
cat > "$PREFIX/start.sh" <<EOF
#!/bin/sh
# Starts the DeviceStreams agent$(for s in $SERVICES; do printf ' and %s server' "$s"; done) in the background (written by install.sh).
cd $PREFIX/home
start() {
  name=\$1; shift
  if [ -f $PREFIX/pid/\$name.pid ] && kill -0 "\$(cat $PREFIX/pid/\$name.pid)" 2>/dev/null; then return 0; fi
  nohup $AS_USER $NODE $KIT "\$@" >> $PREFIX/log/\$name.log 2>&1 < /dev/null &
  echo \$! > $PREFIX/pid/\$name.pid
}
EOF
for s in $SERVICES; do
  case $s in
    shell) echo "start shell shell-server --listen unix:$PREFIX/run/shell.sock --shell $SHELL_PROGRAM --cwd $PREFIX/home --env HOME=$PREFIX/home" >> "$PREFIX/start.sh" ;;
    files) echo "start files file-server --root $PREFIX/files --listen unix:$PREFIX/run/files.sock" >> "$PREFIX/start.sh" ;;
  esac
done
echo "start agent agent --config $PREFIX/etc/agent.json" >> "$PREFIX/start.sh"
chmod 755 "$PREFIX/start.sh"
sh "$PREFIX/start.sh"
i=0
while ! grep -q 'connected to the hub' "$PREFIX/log/agent.log" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
if grep -q 'connected to the hub' "$PREFIX/log/agent.log" 2>/dev/null; then
  say "the agent is connected to the hub (pid $(cat "$PREFIX/pid/agent.pid"), log $PREFIX/log/agent.log)"
else
  say "the agent started (pid $(cat "$PREFIX/pid/agent.pid")) but has not connected yet; see $PREFIX/log/agent.log"
fi
if [ "$IS_ROOT" -eq 1 ]; then CRONTAB="root's crontab"; else CRONTAB="the crontab of $RUN_USER"; fi
say "without systemd nothing starts it at boot: add '@reboot $PREFIX/start.sh' to $CRONTAB (crontab -e), or run this installer again as root without --no-systemd"
