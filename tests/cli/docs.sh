# SPDX-License-Identifier: Apache-2.0
# Man pages, --help, --version and bash completion: the pages lint clean
# (mandoc -T lint), every long option of each --help is in the tool's man
# page and its completion, --version names the libraries, and completion
# offers options and publish's commands.
. tests/lib.sh
MAN=$TOP/$BUILD/man
text() { mandoc -T ascii -O width=200 "$1" | sed 's/.\x08//g'; }
for page in sstream-mirror.1 sstream-publish.1 sstream-verify.1 sstream-query.1 sstream-filters.7; do
	check "$page built" test -s "$MAN/$page"
	expect 0 "$page: mandoc -T lint" mandoc -T lint -W warning "$MAN/$page"
	check "$page: lint says nothing" test ! -s "$T/out" -a ! -s "$T/err"
	check "$page: version stamped" sh -c "! grep -q @VERSION@ '$MAN/$page' && grep -q '^.Os sstream [0-9]' '$MAN/$page'"
done
check "man --warnings agrees" sh -c "LC_ALL=C.UTF-8 MANROFFSEQ='' man --warnings -l '$MAN/sstream-mirror.1' 2>&1 >/dev/null | grep . && exit 1 || exit 0"

. /usr/share/bash-completion/bash_completion
. "$TOP/contrib/bash-completion/sstream"
# complete WORDS...: what completion offers for the last word
complete_words() {
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_sstream "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	printf '%s\n' "${COMPREPLY[@]}" | sort
}

for t in mirror publish verify query; do
	tool=$BIN/sstream-$t
	expect 0 "sstream-$t --help" "$tool" --help
	check "sstream-$t --help is short" test "$(out_lines)" -le 60
	check "sstream-$t --help names its man page" out_has "sstream-$t(1)"
	grep -o -- '--[a-z][a-z0-9-]*' "$T/out" | sort -u >"$T/help-opts"
	check "sstream-$t --help has long options" test "$(wc -l <"$T/help-opts")" -ge 5
	text "$MAN/sstream-$t.1" >"$T/man.txt"
	complete_words "sstream-$t" -- >"$T/compl"
	while read -r opt; do
		check "sstream-$t: $opt is in the man page" grep -q -- "$opt\([^a-z0-9-]\|$\)" "$T/man.txt"
		check "sstream-$t: $opt is completed" grep -qx -- "$opt" "$T/compl"
	done <"$T/help-opts"
	expect 0 "sstream-$t --version" "$tool" --version
	check "sstream-$t --version: name and version" sh -c "head -n 1 '$T/out' | grep -qx 'sstream-$t [0-9][0-9.]*'"
	for lib in libcurl OpenSSL libarchive libgit2; do
		check "sstream-$t --version: $lib" out_has "^$lib [0-9]"
	done
	expect 0 "sstream-$t -V" "$tool" -V
done
check "the filters page is named by the mirror's help" sh -c "'$BIN/sstream-mirror' --help | grep -q 'sstream-filters(7)'"

check "completion: publish's commands" test "$(complete_words sstream-publish r | tr '\n' ' ')" = "remove rollback "
check "completion: options by prefix" test "$(complete_words sstream-mirror --m | tr '\n' ' ')" = "--max --max-delete --max-item-size --max-time --metrics --mirror "
check "completion: verify --format" test "$(complete_words sstream-verify --format '' | tr '\n' ' ')" = "json text "
check "completion: --compression" test "$(complete_words sstream-publish build --compression z | tr '\n' ' ')" = "zstd "
finish
