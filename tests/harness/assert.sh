# assert.sh: assertions for shell integration tests; each failure exits 1.

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# assert_eq DESCRIPTION EXPECTED ACTUAL
assert_eq() {
	if [ "$2" != "$3" ]; then
		echo "FAIL: $1" >&2
		echo "  expected: $2" >&2
		echo "  actual:   $3" >&2
		exit 1
	fi
	echo "ok: $1"
}

# assert_contains DESCRIPTION NEEDLE HAYSTACK
assert_contains() {
	case "$3" in
	*"$2"*) echo "ok: $1" ;;
	*)
		echo "FAIL: $1" >&2
		echo "  expected to contain: $2" >&2
		echo "  actual: $3" >&2
		exit 1
		;;
	esac
}
