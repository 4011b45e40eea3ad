#!/usr/bin/env bash
# Benchmarks a commit, not the working tree: exports <rev> (default HEAD) to <dir>, brings this
# bench/ folder along (the suite may be newer than the commit) and tsconfig.build.json when the
# commit has none (the suite runs the service built), links node_modules and generates the Prisma
# client there. Then: cd <dir> && npm run bench
# (Commits older than src/project-root.ts: the suite's scripts, compiled into bench/build with that
# commit's src/, look for prisma/ in the wrong place, so their seed cannot migrate.)
set -euo pipefail
dir="${1:?usage: bench/snapshot.sh <dir> [rev]}"
rev="${2:-HEAD}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
rm -rf "$dir"
mkdir -p "$dir"
git -C "$repo" archive "$rev" | tar -x -C "$dir"
rm -rf "$dir/bench"
cp -r "$repo/bench" "$dir/bench"
rm -rf "$dir/bench/results" "$dir/bench/profiles" "$dir/bench/build"
[ -e "$dir/tsconfig.build.json" ] || cp "$repo/tsconfig.build.json" "$dir/"
ln -s "$repo/node_modules" "$dir/node_modules"
(cd "$dir" && node --import tsx src/db/cli.ts generate >/dev/null)
echo "$rev ($(git -C "$repo" rev-parse --short "$rev")) in $dir"
