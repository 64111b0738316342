#!/usr/bin/env bash
# Make the client environments the interop tests (tests/interop/) load segmill's output in.
#
#   bash tools/interop_env.sh            # into $SEGMILL_INTEROP_DIR (default /tmp/segmill-interop)
#
# Two virtual environments, as a user would have them, pinned so a result is reproducible:
#   main/      Ultralytics (with torch and torchvision), supervision, labelme, pycocotools
#   datumaro/  Datumaro (its pins on numpy, Pillow and pandas differ from the others')
# An environment whose stamp matches these pins is kept; delete the folder to rebuild it.
set -euo pipefail
dir="${SEGMILL_INTEROP_DIR:-/tmp/segmill-interop}"
py="${PYTHON:-python3}"

main_pins=(torch==2.14.1 torchvision==0.29.1 ultralytics==8.4.190 supervision==0.31.2 labelme==6.3.1
           pycocotools==2.0.11 opencv-python-headless pyyaml)
dm_pins=(datumaro==1.13.12)

make_env() {
    local name="$1"; shift
    local env="$dir/$name" stamp
    stamp="$*"
    if [ -x "$env/bin/python" ] && [ "$(cat "$env/.stamp" 2>/dev/null)" = "$stamp" ]; then
        echo "interop: $name environment up to date ($env)"
        return
    fi
    echo "interop: making the $name environment in $env (several minutes the first time)"
    rm -rf "$env"
    "$py" -m venv "$env"
    "$env/bin/pip" install --quiet --disable-pip-version-check "$@"
    echo "$stamp" > "$env/.stamp"
}

mkdir -p "$dir"
make_env main "${main_pins[@]}"
make_env datumaro "${dm_pins[@]}"
echo "interop: ready; run: python -m pytest tests/interop"
