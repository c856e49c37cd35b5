# shellcheck shell=bash
# The npm packages of tests/interop (jose, ethers, @solana/web3.js, pinned
# in its package-lock.json) for the interop tests, on top of
# tests/lib/common.sh (source that first).
#
#   interop_missing MSG        skip (77), or fail under CI=true
#   interop_node_setup FILE... copy tests/interop's package files and FILE...
#                              (paths relative to $top_srcdir) into
#                              $top_builddir/tests/interop-node and `npm ci`
#                              there when the lockfile changed; sets NODE_DIR
#   js SCRIPT ARGS...          run a script of $NODE_DIR that must succeed
#   js_refuses TEXT SCRIPT ... run one that must fail (exit 1) saying TEXT
#
# The copy keeps node_modules out of the source tree. Tests that run at the
# same time (make -j) share the directory, so the copy and the install run
# under a lock (flock on $NODE_DIR/.lock).

interop_missing() {
	if [ "${CI:-}" = true ]; then
		fail "$* (required under CI=true)"
	fi
	skip "$*"
}

interop_node_setup() {
	local f lock_sum rc=0
	command -v node >/dev/null 2>&1 || interop_missing "node is not installed"
	command -v npm >/dev/null 2>&1 || interop_missing "npm is not installed"
	command -v flock >/dev/null 2>&1 || interop_missing "flock is not installed"
	NODE_DIR=$top_builddir/tests/interop-node
	mkdir -p "$NODE_DIR"
	(
		flock -w 600 9 || exit 3
		for f in tests/interop/package.json tests/interop/package-lock.json "$@"; do
			cmp -s "$top_srcdir/$f" "$NODE_DIR/${f##*/}" || cp "$top_srcdir/$f" "$NODE_DIR/${f##*/}" || exit 4
		done
		lock_sum=$(sha256sum <"$NODE_DIR/package-lock.json")
		if [ ! -d "$NODE_DIR/node_modules" ] || [ "$(cat "$NODE_DIR/.installed" 2>/dev/null)" != "$lock_sum" ]; then
			rm -f "$NODE_DIR/.installed"
			(cd "$NODE_DIR" && timeout 300 npm ci --no-audit --no-fund --loglevel=error) >"$PV_WORK/npm.log" 2>&1 || exit 2
			printf '%s\n' "$lock_sum" >"$NODE_DIR/.installed"
		fi
	) 9>"$NODE_DIR/.lock" || rc=$?
	case $rc in
	0) ;;
	2)
		cat "$PV_WORK/npm.log" >&2
		interop_missing "npm ci failed in $NODE_DIR (registry unreachable?)"
		;;
	3) fail "another test held $NODE_DIR/.lock for 10 minutes" ;;
	*) fail "cannot copy tests/interop files into $NODE_DIR" ;;
	esac
}

# js SCRIPT ARGS...: a script that must succeed; its report is printed.
js() {
	run_expect 0 node "$NODE_DIR/$1" "${@:2}"
	cat "$RUN_OUT"
}

# js_refuses TEXT SCRIPT ARGS...: a check that must fail (exit 1), for the
# reason TEXT (so it cannot pass by failing for another).
js_refuses() {
	local want=$1
	shift
	run_expect 1 node "$NODE_DIR/$1" "${@:2}"
	assert_contains "$RUN_ERR" "$want" "$1 failed, but not with '$want': $(cat "$RUN_ERR")"
	echo "refused as it must be: $(cat "$RUN_ERR")"
}
