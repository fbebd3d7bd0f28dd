#!/usr/bin/env bash
# checkov (PyPI) on the synthesized Terraform JSON, twice: the default deployment with only the skips listed (with
# their reasons) in .ci/checkov.yaml, and a deployment with a KMS key and an access-log bucket, which must pass every
# check but the ones marked (always) there. Any other finding fails CI.
set -euo pipefail
cd "$(dirname "$0")/.."

CHECKOV_VERSION=3.3.30
if [ "$(.ci/venv/bin/checkov --version 2>/dev/null)" != "$CHECKOV_VERSION" ]; then
  python3 -m venv .ci/venv
  .ci/venv/bin/pip install --quiet "checkov==$CHECKOV_VERSION"
fi

stack=cdktf/cdktf.out/stacks/trendcast/cdk.tf.json
export CHECKPOINT_DISABLE=1 TRENDCAST_PROJECT=checkov-project
export TRENDCAST_TRAINER_IMAGE=asia-south1-docker.pkg.dev/checkov-project/trendcast/trainer:ci

echo "checkov: the default deployment (skips: .ci/checkov.yaml)"
npm run synth --silent >/dev/null
.ci/venv/bin/checkov --config-file .ci/checkov.yaml -f "$stack"

always=$(sed -n 's/^  - \(CKV_[A-Z0-9_]*\) *# (always).*/\1/p' .ci/checkov.yaml | paste -sd, -)
echo "checkov: with TRENDCAST_KMS_KEY and TRENDCAST_ACCESS_LOG_BUCKET (skips: $always)"
TRENDCAST_KMS_KEY=projects/checkov-project/locations/asia-south1/keyRings/trendcast/cryptoKeys/trendcast \
  TRENDCAST_ACCESS_LOG_BUCKET=checkov-project-access-logs npm run synth --silent >/dev/null
.ci/venv/bin/checkov -f "$stack" --framework terraform_json --compact --quiet --skip-download --skip-check "$always"
