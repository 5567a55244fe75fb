#!/usr/bin/env bash
# make run-aws-local: longrun with its AWS adapters against local servers that
# speak the AWS protocols — DynamoDB Local (with Streams), fauxqs (SQS),
# aws-ses-v2-local (SES, its inbox at http://127.0.0.1:8005/) and gofakes3 (S3).
# Ctrl-C stops everything. Needs Java 17 and Node; make deps installs the rest.
set -euo pipefail
cd "$(dirname "$0")/../.."
nm=infra/localaws/node_modules
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
logs=$(mktemp -d)

(cd $nm/amplify-dynamodb-simulator/emulator && exec java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
  -inMemory -sharedDb -port 8000 -disableTelemetry) >"$logs/dynamodb.log" 2>&1 & pids+=($!)
FAUXQS_PORT=4566 FAUXQS_HOST=127.0.0.1 node $nm/fauxqs/dist/cli.js >"$logs/sqs.log" 2>&1 & pids+=($!)
$nm/.bin/aws-ses-v2-local --host 127.0.0.1 --port 8005 >"$logs/ses.log" 2>&1 & pids+=($!)
go run ./infra/localaws/fakes3 --addr 127.0.0.1:4569 >"$logs/s3.log" 2>&1 & pids+=($!)

for port in 8000 4566 8005 4569; do
  for _ in $(seq 1 150); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.2; done
done
echo "local AWS servers up (logs in $logs); SES inbox: http://127.0.0.1:8005/"

export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000 AWS_ENDPOINT_URL_DYNAMODB_STREAMS=http://127.0.0.1:8000
export AWS_ENDPOINT_URL_SQS=http://127.0.0.1:4566 AWS_ENDPOINT_URL_SESV2=http://127.0.0.1:8005
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:4569
go run ./cmd/longrun-aws-local --addr "${ADDR:-127.0.0.1:8080}"
