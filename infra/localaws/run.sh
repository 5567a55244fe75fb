#!/usr/bin/env bash
# make run-aws-local: longrun with its AWS adapters against local servers that
# speak the AWS protocols — DynamoDB Local (with Streams), fauxqs (SQS),
# aws-ses-v2-local (SES, with a web inbox) and gofakes3 (S3).
#
# Ports: DYNAMODB_PORT (default 8000), SQS_PORT (4566), SES_PORT (8005),
# S3_PORT (4569) and ADDR (127.0.0.1:8080, the page); a default port that is
# taken is replaced by a free one, and every port is printed.
# infra/env-vars.json (for sam local) assumes the defaults.
# Every server listens on 127.0.0.1 only (DynamoDB Local through
# LoopbackDynamoDB.java, fauxqs through loopback.mjs: neither has an option
# for it). Where a Docker bridge exists (docker0, or BRIDGE_ADDR), a relay
# also listens on the bridge's address, so that sam local's function
# containers reach the servers at host.docker.internal (samconfig.toml maps
# it to the bridge's gateway); never on every interface.
# Logs: data/aws-local/logs. Ctrl-C stops every process and exits 0.
# Needs Java 17 and Node; make deps installs the rest.
set -euo pipefail
cd "$(dirname "$0")/../.."
nm=infra/localaws/node_modules
state=${AWS_LOCAL_DIR:-data/aws-local}
logs=$state/logs bin=$state/bin
mkdir -p "$logs" "$bin"

pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'cleanup; exit 0' INT TERM

taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# port NAME DEFAULT: the default, or a free port if it is taken.
port() {
  local p=$2
  if taken "$p"; then
    p=$(( (RANDOM % 20000) + 30000 )); while taken "$p"; do p=$(( (RANDOM % 20000) + 30000 )); done
    echo "port $2 is taken: $1 listens on $p instead (infra/env-vars.json assumes $2)" >&2
  fi
  echo "$p"
}
ddb=$(port DynamoDB "${DYNAMODB_PORT:-8000}") sqs=$(port SQS "${SQS_PORT:-4566}")
ses=$(port SES "${SES_PORT:-8005}") s3=$(port S3 "${S3_PORT:-4569}")

# Built first, so that Ctrl-C stops the servers themselves, not a go run.
go build -o "$bin/fakes3" ./infra/localaws/fakes3
go build -o "$bin/relay" ./infra/localaws/relay
go build -o "$bin/longrun-aws-local" ./cmd/longrun-aws-local

# Each server in a process group of its own (setsid), stopped whole.
here=$PWD/infra/localaws
(cd $nm/amplify-dynamodb-simulator/emulator && exec setsid java -Djava.library.path=./DynamoDBLocal_lib -cp DynamoDBLocal.jar \
  "$here/LoopbackDynamoDB.java" -inMemory -sharedDb -port "$ddb" -disableTelemetry) >"$logs/dynamodb.log" 2>&1 & pids+=($!)
FAUXQS_PORT=$sqs FAUXQS_HOST=127.0.0.1 setsid node --import "$here/loopback.mjs" $nm/fauxqs/dist/cli.js >"$logs/sqs.log" 2>&1 & pids+=($!)
setsid $nm/.bin/aws-ses-v2-local --host 127.0.0.1 --port "$ses" >"$logs/ses.log" 2>&1 & pids+=($!)
setsid "$bin/fakes3" --addr "127.0.0.1:$s3" >"$logs/s3.log" 2>&1 & pids+=($!)

# Up to 90 s each: DynamoDB Local compiles its loopback launcher as it
# starts, which took over 30 s beside make test's browser tests on 2 cores.
for p in "$ddb" "$sqs" "$ses" "$s3"; do
  for _ in $(seq 1 450); do taken "$p" && break; sleep 0.2; done
  taken "$p" || { echo "a local AWS server did not start on port $p: see $logs" >&2; exit 1; }
done
echo "local AWS servers: DynamoDB :$ddb, SQS :$sqs, SES :$ses (inbox http://127.0.0.1:$ses/), S3 :$s3; logs in $logs"

# The Docker bridge's address, for sam local's containers.
bridge=${BRIDGE_ADDR:-$( (ip -4 -o addr show docker0 2>/dev/null || true) | awk '{split($4, a, "/"); print a[1]; exit}')}
if [ -n "$bridge" ]; then
  setsid "$bin/relay" --on "$bridge" "$ddb" "$sqs" "$ses" "$s3" >"$logs/relay.log" 2>&1 & pids+=($!)
  for _ in $(seq 1 50); do grep -q "relay .*:$s3 " "$logs/relay.log" && break; sleep 0.1; done
  if grep -q "relay .*:$s3 " "$logs/relay.log"; then
    echo "sam local's containers reach them at host.docker.internal (the Docker bridge, $bridge)"
  else
    echo "no relay on the Docker bridge ($bridge): sam local's containers cannot reach the servers; see $logs/relay.log" >&2
  fi
fi

export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$ddb AWS_ENDPOINT_URL_DYNAMODB_STREAMS=http://127.0.0.1:$ddb
export AWS_ENDPOINT_URL_SQS=http://127.0.0.1:$sqs AWS_ENDPOINT_URL_SESV2=http://127.0.0.1:$ses
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$s3
"$bin/longrun-aws-local" --addr "${ADDR:-127.0.0.1:8080}" --ses-inbox "http://127.0.0.1:$ses/" 2>"$logs/longrun.log" & pids+=($!)
wait "${pids[-1]}"
