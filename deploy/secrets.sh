#!/bin/sh
# The bus's Secrets that deploy/ and deploy/nats/values.yaml expect, printed as YAML for
# `kubectl apply`: the NATS server's users (vivian-nats-auth, key nats-auth.conf) and each role's
# credentials (vivian-nats-<role>, `_` written `-`, key credentials.json), from the files that
#   python -m devstack.credentials DIR
# writes (made once, then reused: rerun both after an upgrade to refresh the permissions).
#   sh deploy/secrets.sh DIR NAMESPACE | kubectl apply -f -
# Nothing reaches the cluster before that apply (`--dry-run=client`). KUBECTL names another kubectl.
set -eu
dir=$1
namespace=$2
kubectl=${KUBECTL:-kubectl}
"$kubectl" create secret generic vivian-nats-auth --namespace "$namespace" \
  --from-file=nats-auth.conf="$dir/nats-auth.conf" --dry-run=client -o yaml
for file in "$dir"/nats-*.json; do
  name=$(basename "$file" .json | tr _ -)  # Kubernetes names take no `_` (vector_stores)
  echo ---
  "$kubectl" create secret generic "vivian-$name" --namespace "$namespace" \
    --from-file=credentials.json="$file" --dry-run=client -o yaml
done
