# shellcheck shell=bash
# Staging a program that a test runs as another user (uid 65534) where that user can
# reach it. The build tree need not be reachable by other users (a clone in /root, which
# is 0700 on Debian), and a copied program still names the build tree in its RUNPATH, so
# the copy's private libraries are copied too and found through LD_LIBRARY_PATH (searched
# before RUNPATH). Sourced; the C++ tests have the same in tests/lib/stage.h.

# private_libraries FILE: the libraries FILE needs that ldd resolves outside the system's
# directories (/lib*, /usr, /opt), one path a line. Fails when one is not found at all.
private_libraries() {
    local out
    out=$(env -u LD_PRELOAD ldd "$1") || return 1
    if grep -q '=> not found' <<<"$out"; then
        echo "$1 needs a library that is not found:" \
            "$(grep '=> not found' <<<"$out" | head -n 1)" >&2
        return 1
    fi
    awk '$2 == "=>" && $3 ~ /^\// && $3 !~ /^\/(lib|usr\/|opt\/)/ { print $3 }' <<<"$out"
}

# stage_program DIR FILE: copies the program FILE into DIR/bin and its private libraries
# into DIR/lib, all readable (DIR, DIR/bin and DIR/lib searchable) by everyone, and prints
# the copy's path. Run it with LD_LIBRARY_PATH=DIR/lib. The directories above DIR must
# be searchable by the user too (the caller's TMP: chmod 0711 or 0755).
stage_program() {
    local dir=$1 file=$2 libs lib copy
    libs=$(private_libraries "$file") || return 1
    mkdir -p "$dir/bin" "$dir/lib" || return 1
    chmod 0755 "$dir" "$dir/bin" "$dir/lib" || return 1
    copy=$dir/bin/$(basename "$file")
    cp "$file" "$copy" && chmod 0755 "$copy" || return 1
    while IFS= read -r lib; do
        [[ -n $lib ]] || continue
        cp "$lib" "$dir/lib/" && chmod 0644 "$dir/lib/$(basename "$lib")" || return 1
    done <<<"$libs"
    echo "$copy"
}
