#!/usr/bin/env bash
# TrustyClaw host bootstrap (deploy.md "Bootstrap"; docs/bootstrap.md).
#
# Runs as root over SSH, started by the Pulumi program after the instance and
# both data-volume attachments exist. Idempotent: a second run with the same
# inputs leaves the host as the first one did. Every step fails loudly.
#
# Usage (as root):
#   printf '%s\n' "$ADMIN_PASSWORD" | \
#     TRUSTYCLAW_AGENT_NAME=... TRUSTYCLAW_ADMIN_VOLUME_ID=vol-... \
#     TRUSTYCLAW_AGENT_VOLUME_ID=vol-... TRUSTYCLAW_DEPLOY_KEY_FINGERPRINT=SHA256:... \
#     bash BUNDLE/bootstrap/bootstrap.sh
#
# Inputs (environment; none of them is secret):
#   TRUSTYCLAW_AGENT_NAME             required; 1-50 of [A-Za-z0-9_-]
#   TRUSTYCLAW_ADMIN_VOLUME_ID        required; EBS volume id (vol-...) of the admin volume
#   TRUSTYCLAW_AGENT_VOLUME_ID        required; EBS volume id of the agent volume
#   TRUSTYCLAW_ADMIN_DEVICE           optional; requested device name (/dev/sdf), used
#   TRUSTYCLAW_AGENT_DEVICE             only when no NVMe serial matches (Xen instances)
#   TRUSTYCLAW_DEPLOY_KEY_FINGERPRINT the deploy key's SHA256 fingerprint
#   TRUSTYCLAW_DEPLOY_PUBLIC_KEY        or the deploy public key itself (one is required);
#                                       removed from trustyclaw-operator's authorized_keys
#                                       as the very last step
#   TRUSTYCLAW_HOSTD_BIN              optional; the hostd linux binary of the bundle
#                                       (TRUSTYCLAW_HOSTD_BINARY is accepted too;
#                                       default: BUNDLE/hostd, else BUNDLE/bootstrap/hostd)
#   TRUSTYCLAW_VOLUME_WAIT_SECONDS    optional; how long to wait for the volumes (300)
# Admin password: the first line of stdin, never argv or environment. It may be
# left empty on a re-run when the host already stores a hash (the hash is kept).
# Only its argon2id hash is stored (`hostd hash-password`).
#
# Box mode, for the systemd-nspawn "host in a box" test only (no EBS, no swap):
#   TRUSTYCLAW_SKIP_VOLUMES=1  use the mount points on the root filesystem
#   TRUSTYCLAW_SKIP_SWAP=1     no swapfile
# Both are logged loudly; a real host never sets them.
#
# Sourcing this file (tests) defines the functions without running main.

set -Eeuo pipefail
shopt -s inherit_errexit
umask 022

# ---- fixed layout (architecture.md) -------------------------------------------

readonly ADMIN_USER=trustyclaw-admin ADMIN_UID=47741
readonly PROXY_USER=trustyclaw-proxy PROXY_UID=47742
readonly AGENT_USER=trustyclaw-agent AGENT_UID=47743
readonly OPERATOR_USER=trustyclaw-operator

readonly ADMIN_MNT=/mnt/trustyclaw-admin
readonly AGENT_MNT=/mnt/trustyclaw-agent
readonly ADMIN_STATE=$ADMIN_MNT/admin-state
readonly PROXY_STATE=$ADMIN_MNT/proxy-state
readonly AGENT_HOME=$AGENT_MNT/agent-home

readonly LIB_DIR=/usr/local/lib/trustyclaw
readonly HOSTD=$LIB_DIR/hostd
readonly HELPER_DIR=$LIB_DIR/helpers
readonly ETC_DIR=/etc/trustyclaw
readonly HOST_ENV=$ETC_DIR/host.env
readonly CODEX_ETC=/etc/codex
readonly SUDOERS_FILE=/etc/sudoers.d/trustyclaw-host
readonly UNIT_DIR=/etc/systemd/system
readonly PROXY_CA_DEST=/usr/local/share/ca-certificates/trustyclaw-proxy-ca.crt
readonly PASSWORD_HASH_FILE=$ADMIN_STATE/admin_password.hash
readonly ADMIN_PORT=7443 PROXY_PORT=7445

readonly NODE_MAJOR=22
readonly NODESOURCE_KEY_URL=https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key
readonly NODESOURCE_KEY_FPR=6F71F525282841EEDAF851B42F59B5F99B1BE0B4
readonly CODEX_VERSION=0.169.0
readonly CLAUDE_VERSION=2.1.328
readonly SWAPFILE=/swapfile
readonly SWAP_BYTES=$((6 * 1024 * 1024 * 1024))

readonly SERVICES_IN_ORDER=(trustyclaw-network-proxy.service trustyclaw-admin-api.service)

# ---- logging -----------------------------------------------------------------

log() { printf '%s trustyclaw-bootstrap: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() {
	log "FATAL: $*"
	exit 1
}
# BASH_COMMAND is the unexpanded command text, so no secret value is printed.
on_err() { log "FATAL: command failed (exit $1) at line $2: $3"; }

# ---- pure pieces (tested offline in bootstrap_script_test.go) ------------------

# valid_agent_name NAME: deploy.md's agentName rule.
valid_agent_name() { [[ $1 =~ ^[A-Za-z0-9_-]{1,50}$ ]]; }

# valid_volume_id ID: an EBS volume id.
valid_volume_id() { [[ $1 =~ ^vol-[0-9a-f]{8,17}$ ]]; }

# sanitize_dir PATH UID GID MODE: make PATH a real directory with exactly that
# owner and mode. A symlink planted there is removed (never followed); a
# non-directory is refused. The parent must already be sanitised (root-owned),
# so nothing can swap PATH between these checks.
sanitize_dir() {
	local path=$1 uid=$2 gid=$3 mode=$4 got
	if [[ -L $path ]]; then
		log "warning: $path is a symlink (to $(readlink -- "$path")); removing the link"
		rm -f -- "$path"
	fi
	if [[ -e $path && ! -d $path ]]; then
		die "$path exists and is not a directory; refusing to touch it (move it away and re-run)"
	fi
	[[ -d $path ]] || mkdir -- "$path"
	chown -h -- "$uid:$gid" "$path"
	# The extra leading 0 also clears set-id bits on a directory (GNU chmod).
	chmod -- "0$mode" "$path"
	got=$(stat -c '%u:%g:%a' -- "$path")
	[[ $got == "$uid:$gid:${mode#0}" ]] || die "$path is $got after fixing it, expected $uid:$gid:${mode#0}"
}

# require_real_dir PATH: PATH must be a directory that is not a symlink and
# not writable by anyone but root (it holds managed paths).
require_real_dir() {
	local path=$1
	if [[ -L $path || ! -d $path ]]; then
		die "$path must be a real directory (not a symlink)"
	fi
	if [[ $(stat -c %u -- "$path") != 0 ]] || [[ -n $(find "$path" -maxdepth 0 -perm /0002) ]]; then
		die "$path must be owned by root and not world-writable"
	fi
}

# sanitize_file PATH: before root replaces PATH, a symlink there is removed and
# anything but a regular file is refused.
sanitize_file() {
	local path=$1
	if [[ -L $path ]]; then
		log "warning: $path is a symlink (to $(readlink -- "$path")); removing the link"
		rm -f -- "$path"
	fi
	if [[ -e $path && ! -f $path ]]; then
		die "$path exists and is not a regular file; refusing to touch it"
	fi
}

# install_root_file SRC DEST MODE: atomically replace DEST (root:root, MODE)
# with SRC's content. rename(2) replaces a symlink at DEST instead of writing
# through it; the temporary name starts with '.' so sudo, systemd, apt and
# update-ca-certificates ignore it while it exists.
install_root_file() {
	local src=$1 dest=$2 mode=$3 tmp
	sanitize_file "$dest"
	tmp=$(mktemp "$(dirname -- "$dest")/.trustyclaw-new.XXXXXX")
	if ! cat -- "$src" >"$tmp" || ! chown root:root -- "$tmp" || ! chmod -- "$mode" "$tmp"; then
		rm -f -- "$tmp"
		die "could not stage $dest"
	fi
	mv -fT -- "$tmp" "$dest"
}

# find_volume_device VOLUME_ID BY_ID_DIR [FALLBACK_DEVICE] [TIMEOUT_SECONDS]
# prints the block device of an attached EBS volume. On Nitro instances the
# NVMe device names do not follow the requested names, but the controller's
# serial is the volume id without its dash, which udev publishes as
# BY_ID_DIR/nvme-Amazon_Elastic_Block_Store_<serial> (with "_1" for the
# namespace on newer udev). FALLBACK_DEVICE (the requested name, e.g.
# /dev/sdf) is used only when it resolves and no serial matches (Xen).
# Waits up to TIMEOUT for the attachment to show up.
find_volume_device() {
	local vol=$1 byid=$2 fallback=${3:-} timeout=${4:-300} serial link deadline
	valid_volume_id "$vol" || die "not an EBS volume id: '$vol'"
	serial=${vol/-/}
	deadline=$((SECONDS + timeout))
	while :; do
		for link in "$byid/nvme-Amazon_Elastic_Block_Store_$serial" "$byid/nvme-Amazon_Elastic_Block_Store_${serial}_1"; do
			if [[ -e $link ]]; then
				readlink -f -- "$link"
				return 0
			fi
		done
		if [[ -n $fallback && -e $fallback ]]; then
			log "no NVMe serial matches $vol; using the requested device name $fallback"
			readlink -f -- "$fallback"
			return 0
		fi
		if ((SECONDS >= deadline)); then
			die "volume $vol is not attached: no $byid/nvme-Amazon_Elastic_Block_Store_$serial${fallback:+ and no $fallback} after ${timeout}s"
		fi
		sleep 2
	done
}

# fstab_set FSTAB FIELD VALUE LINE: make LINE the only entry of FSTAB whose
# FIELD (1 = device, 2 = mount point) is VALUE; rewrites the file atomically
# and only when it changes.
fstab_set() {
	local fstab=$1 field=$2 value=$3 line=$4 tmp
	[[ $field == 1 || $field == 2 ]] || die "fstab_set: field must be 1 or 2"
	tmp=$(mktemp "$(dirname -- "$fstab")/.fstab-new.XXXXXX")
	# The first entry for VALUE is replaced in place (so an unchanged file
	# stays byte-identical), later ones are dropped, and LINE is appended
	# when there was none.
	if [[ -e $fstab ]]; then
		awk -v f="$field" -v v="$value" -v l="$line" '
			$0 ~ /^[[:space:]]*#/ || $f != v { print; next }
			!done { print l; done = 1 }
			END { if (!done) print l }' "$fstab" >"$tmp"
	else
		printf '%s\n' "$line" >"$tmp"
	fi
	if [[ -e $fstab ]] && cmp -s -- "$tmp" "$fstab"; then
		rm -f -- "$tmp"
		return 0
	fi
	chmod 0644 -- "$tmp"
	mv -fT -- "$tmp" "$fstab"
}

# render_nftables RESOLVER_UID TIMESYNC_UID: nftables.conf (stdin) with the
# host's dynamic system uids filled in (stdout). 0 stands for "no such user"
# (root is allowed anyway, so it widens nothing).
render_nftables() {
	local resolver=$1 timesync=$2 out
	[[ $resolver =~ ^[0-9]+$ && $timesync =~ ^[0-9]+$ ]] || die "render_nftables: uids must be numeric"
	out=$(sed -e "s/@RESOLVER_UID@/$resolver/g" -e "s/@TIMESYNC_UID@/$timesync/g")
	if grep -q '@[A-Z_]*@' <<<"$out"; then
		die "nftables.conf has an unrendered placeholder: $(grep -o '@[A-Z_]*@' <<<"$out" | head -1)"
	fi
	printf '%s\n' "$out"
}

# system_uid NAME...: the uid of the first existing user, else 0.
system_uid() {
	local name entry
	for name in "$@"; do
		if entry=$(getent passwd "$name"); then
			cut -d: -f3 <<<"$entry"
			return 0
		fi
	done
	echo 0
}

# key_fingerprint: the SHA256 fingerprint of the one public key (authorized_keys
# syntax, options allowed) on stdin; empty when it is not a key.
key_fingerprint() {
	ssh-keygen -lf /dev/stdin 2>/dev/null | awk '{print $2; exit}' || true
}

# remove_authorized_key FILE FINGERPRINT: drop every key line whose SHA256
# fingerprint matches; refuses when that would leave FILE without any key
# (the operator would be locked out). Absent key = nothing to do.
remove_authorized_key() {
	local file=$1 fpr=$2 tmp line fp kept=0 removed=0
	[[ $fpr =~ ^SHA256:[A-Za-z0-9+/]{43}$ ]] || die "not a SHA256 key fingerprint: '$fpr'"
	if [[ -L $file ]]; then
		die "$file is a symlink; refusing to edit it"
	fi
	[[ -f $file ]] || die "$file does not exist"
	tmp=$(mktemp "$(dirname -- "$file")/.authorized_keys-new.XXXXXX")
	while IFS= read -r line || [[ -n $line ]]; do
		if [[ $line =~ ^[[:space:]]*(#|$) ]]; then
			printf '%s\n' "$line" >>"$tmp"
			continue
		fi
		fp=$(key_fingerprint <<<"$line")
		if [[ $fp == "$fpr" ]]; then
			removed=$((removed + 1))
			continue
		fi
		kept=$((kept + 1))
		printf '%s\n' "$line" >>"$tmp"
	done <"$file"
	if ((removed == 0)); then
		rm -f -- "$tmp"
		log "deploy key $fpr is not in $file (already removed)"
		return 0
	fi
	if ((kept == 0)); then
		rm -f -- "$tmp"
		die "removing the deploy key would leave $file without any key; refusing"
	fi
	chown --reference="$file" -- "$tmp"
	chmod 0600 -- "$tmp"
	mv -fT -- "$tmp" "$file"
	log "removed the deploy key $fpr from $file ($kept key(s) left)"
}

# ---- steps ---------------------------------------------------------------------

apt_get() {
	DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a \
		apt-get -q -y -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
}

read_inputs() {
	AGENT_NAME=${TRUSTYCLAW_AGENT_NAME:-}
	valid_agent_name "$AGENT_NAME" || die "TRUSTYCLAW_AGENT_NAME must be 1-50 of [A-Za-z0-9_-], got '$AGENT_NAME'"
	ADMIN_VOLUME_ID=${TRUSTYCLAW_ADMIN_VOLUME_ID:-}
	AGENT_VOLUME_ID=${TRUSTYCLAW_AGENT_VOLUME_ID:-}
	SKIP_VOLUMES=${TRUSTYCLAW_SKIP_VOLUMES:-0}
	SKIP_SWAP=${TRUSTYCLAW_SKIP_SWAP:-0}
	if [[ $SKIP_VOLUMES != 1 ]]; then
		valid_volume_id "$ADMIN_VOLUME_ID" || die "TRUSTYCLAW_ADMIN_VOLUME_ID must be an EBS volume id (vol-...), got '$ADMIN_VOLUME_ID'"
		valid_volume_id "$AGENT_VOLUME_ID" || die "TRUSTYCLAW_AGENT_VOLUME_ID must be an EBS volume id (vol-...), got '$AGENT_VOLUME_ID'"
		[[ $ADMIN_VOLUME_ID != "$AGENT_VOLUME_ID" ]] || die "the admin and agent volume ids are the same"
	fi
	DEPLOY_FPR=${TRUSTYCLAW_DEPLOY_KEY_FINGERPRINT:-}
	if [[ -z $DEPLOY_FPR && -n ${TRUSTYCLAW_DEPLOY_PUBLIC_KEY:-} ]]; then
		DEPLOY_FPR=$(key_fingerprint <<<"$TRUSTYCLAW_DEPLOY_PUBLIC_KEY")
		[[ -n $DEPLOY_FPR ]] || die "TRUSTYCLAW_DEPLOY_PUBLIC_KEY is not an SSH public key"
	fi
	[[ $DEPLOY_FPR =~ ^SHA256:[A-Za-z0-9+/]{43}$ ]] ||
		die "set TRUSTYCLAW_DEPLOY_KEY_FINGERPRINT (SHA256:...) or TRUSTYCLAW_DEPLOY_PUBLIC_KEY"

	BOOTSTRAP_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
	HOSTD_SRC=${TRUSTYCLAW_HOSTD_BIN:-${TRUSTYCLAW_HOSTD_BINARY:-}}
	if [[ -z $HOSTD_SRC ]]; then
		for HOSTD_SRC in "$BOOTSTRAP_DIR/../hostd" "$BOOTSTRAP_DIR/hostd"; do
			[[ -f $HOSTD_SRC ]] && break
		done
	fi
	[[ -f $HOSTD_SRC && -x $HOSTD_SRC ]] || die "the hostd binary is missing: set TRUSTYCLAW_HOSTD_BIN (tried $HOSTD_SRC)"
	local f
	for f in nftables.conf sudoers codex-requirements.toml apt-sandbox.conf; do
		[[ -f $BOOTSTRAP_DIR/$f ]] || die "bundle is incomplete: $BOOTSTRAP_DIR/$f is missing"
	done

	# The password is read before anything else can consume stdin, then stdin
	# is closed for every later command.
	ADMIN_PASSWORD=
	if [[ -t 0 ]]; then
		IFS= read -r -s -p 'admin password: ' ADMIN_PASSWORD || true
		echo >&2
	else
		IFS= read -r ADMIN_PASSWORD || true
	fi
	exec </dev/null
}

step_sanitize_root_paths() {
	log "step 1: sanitise managed paths"
	local parent
	for parent in /usr/local/lib /etc /etc/sudoers.d "$UNIT_DIR" /etc/apt/apt.conf.d /mnt; do
		require_real_dir "$parent"
	done
	sanitize_dir "$LIB_DIR" 0 0 0755
	sanitize_dir "$HELPER_DIR" 0 0 0755
	sanitize_dir "$ETC_DIR" 0 0 0755
	sanitize_dir "$CODEX_ETC" 0 0 0755
	local mnt
	for mnt in "$ADMIN_MNT" "$AGENT_MNT"; do
		# A mounted volume's root is fixed up after mounting (step 4).
		mountpoint -q -- "$mnt" || sanitize_dir "$mnt" 0 0 0711
	done
}

prepare_volume() {
	local role=$1 vol=$2 fallback=$3 mnt=$4 options=$5 dev rc=0 probe fstype uuid mounted root_src root_disk
	dev=$(find_volume_device "$vol" /dev/disk/by-id "$fallback" "${TRUSTYCLAW_VOLUME_WAIT_SECONDS:-300}")
	[[ -b $dev ]] || die "$role volume $vol resolved to $dev, which is not a block device"
	root_src=$(findmnt -no SOURCE /)
	root_disk=$(lsblk -no PKNAME -- "$root_src" 2>/dev/null || true)
	if [[ $dev == "$root_src" || (-n $root_disk && $(basename -- "$dev") == "$root_disk") ]]; then
		die "$role volume $vol resolved to the root disk $dev; refusing"
	fi
	probe=$(blkid -p -o export -- "$dev") || rc=$?
	case $rc in
	0)
		fstype=$(sed -n 's/^TYPE=//p' <<<"$probe")
		[[ $fstype == ext4 ]] || die "$role volume $dev holds '${fstype:-a partition table}', not ext4; refusing to touch it"
		log "$role volume $vol ($dev) already has an ext4 filesystem; keeping it"
		;;
	2)
		log "$role volume $vol ($dev) is blank; creating an ext4 filesystem"
		mkfs.ext4 -q -L "trustyclaw-$role" -- "$dev"
		;;
	*) die "blkid could not probe $dev (exit $rc)" ;;
	esac
	uuid=$(blkid -p -s UUID -o value -- "$dev")
	[[ -n $uuid ]] || die "$dev has no filesystem UUID"
	fstab_set /etc/fstab 2 "$mnt" "UUID=$uuid $mnt ext4 $options 0 2"
	systemctl daemon-reload
	if mounted=$(findmnt -rn -o UUID --mountpoint "$mnt"); then
		[[ $mounted == "$uuid" ]] || die "$mnt is mounted from filesystem $mounted, expected $uuid ($vol)"
	else
		mount -- "$mnt"
	fi
	log "$role volume $vol mounted at $mnt (UUID=$uuid)"
}

step_volumes() {
	log "step 2: data volumes"
	if [[ $SKIP_VOLUMES == 1 ]]; then
		log "WARNING: TRUSTYCLAW_SKIP_VOLUMES=1 (box mode): state stays on the root filesystem"
		return 0
	fi
	# nofail: a missing volume must not drop the host into emergency mode
	# (SSH would be gone); the services require the mounts instead.
	prepare_volume admin "$ADMIN_VOLUME_ID" "${TRUSTYCLAW_ADMIN_DEVICE:-}" "$ADMIN_MNT" \
		defaults,nofail,nodev,nosuid,noexec,noatime,x-systemd.device-timeout=60s
	prepare_volume agent "$AGENT_VOLUME_ID" "${TRUSTYCLAW_AGENT_DEVICE:-}" "$AGENT_MNT" \
		defaults,nofail,nodev,nosuid,noatime,x-systemd.device-timeout=60s
}

install_nodejs() {
	local keyring=/etc/apt/keyrings/nodesource.gpg tmpd fpr arch list pref
	install -d -m 0755 -o root -g root /etc/apt/keyrings
	tmpd=$(mktemp -d)
	if [[ -f $keyring ]] && fpr=$(GNUPGHOME=$tmpd gpg --batch --show-keys --with-colons "$keyring" 2>/dev/null | awk -F: '$1 == "fpr" {print $10; exit}') &&
		[[ $fpr == "$NODESOURCE_KEY_FPR" ]]; then
		log "NodeSource signing key present ($fpr)"
	else
		log "fetching the NodeSource signing key"
		curl -fsSL --proto '=https' --tlsv1.2 --max-time 60 -o "$tmpd/key.asc" "$NODESOURCE_KEY_URL"
		fpr=$(GNUPGHOME=$tmpd gpg --batch --show-keys --with-colons "$tmpd/key.asc" | awk -F: '$1 == "fpr" {print $10; exit}')
		[[ $fpr == "$NODESOURCE_KEY_FPR" ]] || die "NodeSource key fingerprint is '$fpr', expected $NODESOURCE_KEY_FPR"
		GNUPGHOME=$tmpd gpg --batch --dearmor -o "$tmpd/key.gpg" "$tmpd/key.asc"
		install_root_file "$tmpd/key.gpg" "$keyring" 0644
	fi
	arch=$(dpkg --print-architecture)
	list=$tmpd/list
	printf 'deb [arch=%s signed-by=%s] https://deb.nodesource.com/node_%s.x nodistro main\n' "$arch" "$keyring" "$NODE_MAJOR" >"$list"
	install_root_file "$list" /etc/apt/sources.list.d/trustyclaw-nodesource.list 0644
	pref=$tmpd/pref
	printf 'Package: nodejs\nPin: origin deb.nodesource.com\nPin-Priority: 1001\n' >"$pref"
	install_root_file "$pref" /etc/apt/preferences.d/trustyclaw-nodejs 0644
	rm -rf -- "$tmpd"
	apt_get update
	apt_get install --no-install-recommends nodejs
	[[ $(node --version) == v"$NODE_MAJOR".* ]] || die "node is $(node --version), expected v$NODE_MAJOR.x"
}

agent_clis_ok() {
	local home codex claude
	home=$(mktemp -d)
	codex=$(HOME=$home /usr/local/bin/codex --version 2>/dev/null || true)
	claude=$(HOME=$home /usr/local/bin/claude --version 2>/dev/null || true)
	rm -rf -- "$home"
	[[ $codex == "codex-cli $CODEX_VERSION" && $claude == "$CLAUDE_VERSION "* ]]
}

install_agent_clis() {
	if agent_clis_ok; then
		log "codex $CODEX_VERSION and claude $CLAUDE_VERSION already installed"
		return 0
	fi
	log "installing @openai/codex@$CODEX_VERSION and @anthropic-ai/claude-code@$CLAUDE_VERSION"
	npm install -g --prefix /usr/local --no-audit --no-fund --loglevel=error --include=optional \
		"@openai/codex@$CODEX_VERSION" "@anthropic-ai/claude-code@$CLAUDE_VERSION"
	if ! HOME=/nonexistent /usr/local/bin/claude --version >/dev/null 2>&1; then
		log "placing Claude Code's native binary (its postinstall did not run)"
		(cd /usr/local/lib/node_modules/@anthropic-ai/claude-code && node install.cjs)
	fi
	agent_clis_ok || die "the installed agent CLIs do not run or report other versions than codex-cli $CODEX_VERSION / claude $CLAUDE_VERSION"
}

ensure_swap() {
	if [[ $SKIP_SWAP == 1 ]]; then
		log "WARNING: TRUSTYCLAW_SKIP_SWAP=1 (box mode): no swapfile"
		return 0
	fi
	if swapon --show=NAME --noheadings | grep -qx "$SWAPFILE"; then
		log "swapfile $SWAPFILE active"
	else
		sanitize_file "$SWAPFILE"
		if [[ ! -f $SWAPFILE || $(stat -c %s -- "$SWAPFILE") -ne $SWAP_BYTES ]]; then
			log "creating a 6 GiB swapfile"
			rm -f -- "$SWAPFILE"
			fallocate -l "$SWAP_BYTES" -- "$SWAPFILE"
			chmod 0600 -- "$SWAPFILE"
			mkswap -- "$SWAPFILE" >/dev/null
		fi
		chown root:root -- "$SWAPFILE"
		chmod 0600 -- "$SWAPFILE"
		swapon -- "$SWAPFILE" 2>/dev/null || { mkswap -- "$SWAPFILE" >/dev/null && swapon -- "$SWAPFILE"; }
	fi
	fstab_set /etc/fstab 1 "$SWAPFILE" "$SWAPFILE none swap sw 0 0"
}

step_packages() {
	log "step 3: security updates, pinned packages, swap"
	local tmp
	tmp=$(mktemp)
	cp -- "$BOOTSTRAP_DIR/apt-sandbox.conf" "$tmp"
	install_root_file "$tmp" /etc/apt/apt.conf.d/50trustyclaw-sandbox 0644
	rm -f -- "$tmp"
	apt_get update
	apt_get install --no-install-recommends ca-certificates curl gnupg nftables sudo util-linux \
		e2fsprogs openssh-server unattended-upgrades iproute2 openssl
	log "applying security updates"
	unattended-upgrade
	install_nodejs
	install_agent_clis
	ensure_swap
}

ensure_group() {
	local name=$1 gid=$2 entry
	if entry=$(getent group "$name"); then
		[[ $(cut -d: -f3 <<<"$entry") == "$gid" ]] || die "group $name exists with gid $(cut -d: -f3 <<<"$entry"), expected $gid"
	elif entry=$(getent group "$gid"); then
		die "gid $gid is taken by group $(cut -d: -f1 <<<"$entry")"
	else
		groupadd --system --gid "$gid" "$name"
	fi
}

ensure_user() {
	local name=$1 uid=$2 home=$3 entry
	ensure_group "$name" "$uid"
	if entry=$(getent passwd "$name"); then
		[[ $(cut -d: -f3 <<<"$entry") == "$uid" ]] || die "user $name exists with uid $(cut -d: -f3 <<<"$entry"), expected $uid"
		usermod --gid "$uid" --home "$home" --shell /usr/sbin/nologin --groups '' "$name"
	elif entry=$(getent passwd "$uid"); then
		die "uid $uid is taken by user $(cut -d: -f1 <<<"$entry")"
	else
		useradd --system --uid "$uid" --gid "$uid" --no-create-home --home-dir "$home" \
			--shell /usr/sbin/nologin "$name"
	fi
	# No password, no sudo, no supplementary groups.
	usermod --lock "$name" 2>/dev/null || true
}

step_users_and_directories() {
	log "step 4: service users and directories"
	ensure_user "$ADMIN_USER" "$ADMIN_UID" "$ADMIN_STATE"
	ensure_user "$PROXY_USER" "$PROXY_UID" "$PROXY_STATE"
	ensure_user "$AGENT_USER" "$AGENT_UID" "$AGENT_HOME"
	sanitize_dir "$ADMIN_MNT" 0 0 0711
	sanitize_dir "$ADMIN_STATE" "$ADMIN_UID" "$ADMIN_UID" 0700
	sanitize_dir "$PROXY_STATE" "$PROXY_UID" "$PROXY_UID" 0700
	sanitize_dir "$AGENT_MNT" 0 0 0711
	sanitize_dir "$AGENT_HOME" "$AGENT_UID" "$AGENT_UID" 0700
}

step_install_code() {
	log "step 5: hostd, helpers, sudoers, Codex requirements"
	install_root_file "$HOSTD_SRC" "$HOSTD" 0755
	"$HOSTD" --help >/dev/null 2>&1 || die "$HOSTD does not run on this host"
	local f name keep=()
	for f in "$BOOTSTRAP_DIR"/helpers/*; do
		name=$(basename -- "$f")
		install_root_file "$f" "$HELPER_DIR/$name" 0755
		keep+=("$name")
	done
	for f in "$HELPER_DIR"/* "$HELPER_DIR"/.[!.]*; do
		[[ -e $f || -L $f ]] || continue
		name=$(basename -- "$f")
		if [[ " ${keep[*]} " != *" $name "* ]]; then
			log "removing stale helper $f"
			rm -rf -- "$f"
		fi
	done
	visudo -cqf "$BOOTSTRAP_DIR/sudoers" || die "bootstrap/sudoers does not pass visudo -c"
	install_root_file "$BOOTSTRAP_DIR/sudoers" "$SUDOERS_FILE" 0440
	visudo -cq || die "the installed sudoers configuration does not pass visudo -c"
	install_root_file "$BOOTSTRAP_DIR/codex-requirements.toml" "$CODEX_ETC/requirements.toml" 0644
}

step_proxy_ca() {
	log "step 6: proxy CA"
	local tmp
	require_real_dir "$(dirname -- "$PROXY_CA_DEST")"
	tmp=$(mktemp)
	# As the proxy user: the CA key is created (first run only) inside its
	# own state directory and never readable by root's mistakes elsewhere.
	runuser -u "$PROXY_USER" -- "$HOSTD" proxy --print-ca-cert --state-dir "$PROXY_STATE" >"$tmp"
	openssl x509 -noout -in "$tmp" || die "hostd proxy --print-ca-cert did not print a certificate"
	install_root_file "$tmp" "$PROXY_CA_DEST" 0644
	rm -f -- "$tmp"
	update-ca-certificates >/dev/null
}

step_state() {
	log "step 8: state (only where missing)"
	if [[ -e $PROXY_STATE/policy.json || -L $PROXY_STATE/policy.json ]]; then
		log "network policy exists; keeping it"
	else
		log "writing the empty network policy (deny all)"
		printf '%s\n' '{"managed_ai_provider_network_access":{"openai":false,"claude":false},"allowed_network_access":{}}' |
			"$HOSTD" helper update-network-policy >/dev/null
	fi
	if [[ -n $ADMIN_PASSWORD ]]; then
		log "storing the admin password hash"
		printf '%s\n' "$ADMIN_PASSWORD" |
			runuser -u "$ADMIN_USER" -- "$HOSTD" hash-password --out "$PASSWORD_HASH_FILE"
	elif [[ -e $PASSWORD_HASH_FILE ]]; then
		log "no admin password on stdin; keeping the stored hash"
	else
		die "no admin password on stdin and none stored yet: pipe it on stdin"
	fi
	ADMIN_PASSWORD=
}

wait_listening() {
	local unit=$1 port=$2 deadline=$((SECONDS + 60))
	until ss -Hltn "sport = :$port" | grep -q .; do
		if ((SECONDS >= deadline)) || ! systemctl is-active --quiet "$unit"; then
			systemctl --no-pager status "$unit" >&2 || true
			journalctl --no-pager -n 40 -u "$unit" >&2 || true
			die "$unit is not listening on 127.0.0.1:$port"
		fi
		sleep 0.5
	done
	log "$unit listening on 127.0.0.1:$port"
}

step_firewall_and_services() {
	log "step 7: nftables, units, agent slice; start in order"
	local tmpd f resolver timesync
	tmpd=$(mktemp -d)
	resolver=$(system_uid systemd-resolve)
	timesync=$(system_uid systemd-timesync _chrony)
	render_nftables "$resolver" "$timesync" <"$BOOTSTRAP_DIR/nftables.conf" >"$tmpd/nftables.conf"
	nft -c -f "$tmpd/nftables.conf" || die "the rendered nftables ruleset does not load"
	install_root_file "$tmpd/nftables.conf" /etc/nftables.conf 0644
	printf 'TRUSTYCLAW_AGENT_NAME=%s\n' "$AGENT_NAME" >"$tmpd/host.env"
	install_root_file "$tmpd/host.env" "$HOST_ENV" 0644
	for f in "$BOOTSTRAP_DIR"/systemd/*; do
		install_root_file "$f" "$UNIT_DIR/$(basename -- "$f")" 0644
	done
	rm -rf -- "$tmpd"
	systemctl daemon-reload
	systemctl enable nftables.service "${SERVICES_IN_ORDER[@]}"
	systemctl restart nftables.service
	systemctl restart trustyclaw-network-proxy.service
	wait_listening trustyclaw-network-proxy.service "$PROXY_PORT"
	systemctl restart trustyclaw-admin-api.service
	wait_listening trustyclaw-admin-api.service "$ADMIN_PORT"
}

unit_exists() { [[ -n $(systemctl list-unit-files --no-legend -- "$1" 2>/dev/null) ]]; }

step_strip_host() {
	log "step 9: no snapd, no SSM agent, no container runtime"
	local snap u pkg
	if command -v snap >/dev/null && systemctl is-active --quiet snapd.service; then
		for snap in amazon-ssm-agent lxd; do
			if snap list "$snap" >/dev/null 2>&1; then
				log "removing the $snap snap"
				snap remove --purge "$snap"
			fi
		done
	fi
	for u in snapd.service snapd.socket snapd.seeded.service snap.amazon-ssm-agent.amazon-ssm-agent.service amazon-ssm-agent.service; do
		if unit_exists "$u"; then
			systemctl stop "$u" || true
			systemctl mask "$u" >/dev/null
		fi
	done
	for pkg in amazon-ssm-agent docker.io docker-ce containerd containerd.io podman runc lxd; do
		if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
			log "purging $pkg"
			apt_get purge "$pkg"
		fi
	done
}

step_remove_deploy_key() {
	log "step 10: remove the deploy key"
	local home
	home=$(getent passwd "$OPERATOR_USER" | cut -d: -f6) || die "user $OPERATOR_USER does not exist"
	remove_authorized_key "$home/.ssh/authorized_keys" "$DEPLOY_FPR"
}

main() {
	trap 'on_err $? $LINENO "$BASH_COMMAND"' ERR
	export DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a LC_ALL=C.UTF-8
	export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	[[ $EUID -eq 0 ]] || die "run as root"
	cd /
	read_inputs
	exec 9>/run/trustyclaw-bootstrap.lock
	flock -w 600 9 || die "another bootstrap is running"
	log "bootstrapping agent '$AGENT_NAME'"
	step_sanitize_root_paths
	step_volumes
	step_packages
	step_users_and_directories
	step_install_code
	step_proxy_ca
	# State before services: the admin API refuses to start without the
	# password hash (deploy.md lists it as step 8; see docs/bootstrap.md).
	step_state
	step_firewall_and_services
	step_strip_host
	step_remove_deploy_key
	log "done: admin API on 127.0.0.1:$ADMIN_PORT, proxy on 127.0.0.1:$PROXY_PORT"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	main "$@"
fi
