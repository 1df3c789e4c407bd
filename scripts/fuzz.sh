#!/usr/bin/env bash
# Builds the JSON fuzz target (Fuzz/JSONFuzz) with libFuzzer and runs it for SECONDS
# (default 60) over the committed seed corpus (Fuzz/corpus) and the inputs earlier runs
# found (.build-fuzz/corpus, not committed). Exits non-zero on a crash or an unexplained
# disagreement with Foundation; the input is then in .build-fuzz/artifacts/.
#
#   scripts/fuzz.sh [SECONDS] [libFuzzer options...]   e.g. scripts/fuzz.sh 600 -seed=1
#   scripts/fuzz.sh --build                            build only
#   scripts/fuzz.sh --run FILE...                      run the target on the given inputs
#   scripts/fuzz.sh --coverage                         line coverage of the parsers by the corpus
#
# The target is compiled by swiftc directly (BatonCore's sources but its swift-log handler,
# and the target, as one module: it sees BatonCore's internal and package declarations); SwiftPM is not used: its executables define `main`, as
# libFuzzer does. Needs only the Swift toolchain (clang's libFuzzer runtime comes with it).
set -euo pipefail
cd "$(dirname "$0")/.."

out=.build-fuzz
bin=$out/json-fuzz
mkdir -p "$out/corpus" "$out/artifacts"

# BatonCore's files that import only what the toolchain has (today all but the swift-log
# handler), then the target.
sources=()
while IFS= read -r file; do
    if grep -E '^[[:space:]]*(@[A-Za-z_]+[[:space:]]+)*import[[:space:]]' "$file" \
        | grep -qvE 'import[[:space:]]+(Foundation|Synchronization|Dispatch|Glibc)[[:space:]]*$'; then
        continue
    fi
    sources+=("$file")
done < <(find Sources/BatonCore -name '*.swift' | LC_ALL=C sort)
sources+=(Fuzz/JSONFuzz/*.swift)

build() {
    # Rebuilt only when a source is newer than the binary (or the file list changed).
    local list="$out/sources.txt"
    if [ -x "$bin" ] && [ -f "$list" ] && [ "$(printf '%s\n' "${sources[@]}")" = "$(cat "$list")" ] \
        && [ -z "$(find "${sources[@]}" scripts/fuzz.sh -newer "$bin" -print -quit)" ]; then
        return
    fi
    echo "fuzz.sh: building $bin (${#sources[@]} files)" >&2
    local start=$SECONDS
    # Compiled from a copy, so that an edit made meanwhile does not stop the build.
    rm -rf "$out/src" && mkdir -p "$out/src" && cp --parents "${sources[@]}" "$out/src/"
    # -O for speed; -assert-config Debug keeps the standard library's bounds checks on unsafe
    # buffers (an out-of-range read stops the run instead of reading past the input).
    (cd "$out/src" && swiftc -O -assert-config Debug -sanitize=fuzzer -parse-as-library -swift-version 6 \
        -enable-upcoming-feature ExistentialAny -package-name baton -module-name JSONFuzz \
        "${sources[@]}" -o "../json-fuzz.new")
    mv "$out/json-fuzz.new" "$bin"
    printf '%s\n' "${sources[@]}" >"$list"
    echo "fuzz.sh: built in $((SECONDS - start)) s" >&2
}

# Swift's own crash backtracer would print every thread; libFuzzer reports the input instead.
export SWIFT_BACKTRACE=enable=no
# The target prints what the inputs exercised (fast paths, fallbacks, divergences) at exit.
export BATON_FUZZ_STATS=1

# Line coverage of Baton's JSON readers by both corpora: a second build with coverage
# mapping, run once over every input, then llvm-cov's report for those files.
coverage() {
    local cov=$out/coverage
    rm -rf "$cov" && mkdir -p "$cov"
    rm -rf "$out/src" && mkdir -p "$out/src" && cp --parents "${sources[@]}" "$out/src/"
    (cd "$out/src" && swiftc -O -sanitize=fuzzer -parse-as-library -swift-version 6 -enable-upcoming-feature ExistentialAny \
        -package-name baton -module-name JSONFuzz -profile-generate -profile-coverage-mapping "${sources[@]}" -o ../coverage/json-fuzz)
    LLVM_PROFILE_FILE="$cov/run.profraw" "$cov/json-fuzz" -runs=0 -close_fd_mask=3 "$out/corpus" Fuzz/corpus
    # The toolchain's own LLVM tools: another llvm-profdata on the PATH may not read its format.
    local tools
    tools=$(dirname "$(command -v swiftc)")
    "$tools/llvm-profdata" merge -o "$cov/run.profdata" "$cov/run.profraw"
    (cd "$out/src" && "$tools/llvm-cov" report ../coverage/json-fuzz -instr-profile=../coverage/run.profdata \
        Sources/BatonCore/Wire/JSONScanner.swift Sources/BatonCore/Model/JSONSyntax.swift Sources/BatonCore/Wire/CanonicalJSON.swift \
        Sources/BatonCore/Wire/NewTaskWireDecoder.swift Sources/BatonCore/Wire/AckWireDecoder.swift \
        Sources/BatonCore/Wire/ClaimResponseWireDecoder.swift Sources/BatonCore/Wire/AckResponseWireDecoder.swift \
        Sources/BatonCore/Wire/JSONNesting.swift)
}

case "${1:-}" in
--coverage)
    coverage
    exit 0
    ;;
--build)
    build
    exit 0
    ;;
--run)
    shift
    build
    exec "$bin" "$@"
    ;;
esac

seconds=${1:-60}
shift || true
build
echo "fuzz.sh: fuzzing for ${seconds} s" >&2
# New inputs go to the first directory ($out/corpus); Fuzz/corpus is only read.
"$bin" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -dict=Fuzz/json.dict -close_fd_mask=1 -print_final_stats=1 \
    -artifact_prefix="$out/artifacts/" "$@" "$out/corpus" Fuzz/corpus
