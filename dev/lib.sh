# Shared by dev/run, dev/bench and dev/chaos: build the release, start the
# emulators on free loopback ports and talk to them. Source it from the
# repository's root; it adds to `pids`, which the caller kills.
# shellcheck shell=bash

pids=()
EMULATOR_PROJECT=${EMULATOR_PROJECT:-docx2pdf-local}

# Installs what is missing and builds the release binary: $bin.
build_release() {
  ./dev/setup
  cargo build --release --quiet
  bin=$(pwd)/target/release/docx2pdf
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Refuses an address that something already listens on: waiting for it to
# answer would find the squatter, not what we start.
ensure_free() { # host port what
  if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then
    echo "$3: something already listens on $1:$2 (a leftover emulator?)" >&2; exit 1
  fi
}

wait_port() { # host port what
  for _ in $(seq 1 300); do (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0; sleep 0.1; done
  echo "$3 did not start on $1:$2" >&2; exit 1
}

urlencode() { python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }

kill_started() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}

# Starts Google's Pub/Sub emulator; exports PUBSUB_EMULATOR_HOST and the
# variables that point gcloud at it.
start_pubsub() { # log-file
  local port; port=$(free_port)
  java -jar /usr/lib/google-cloud-sdk/platform/pubsub-emulator/lib/cloud-pubsub-emulator-*-all.jar \
    --host=127.0.0.1 --port="$port" >"$1" 2>&1 &
  pids+=($!)
  wait_port 127.0.0.1 "$port" "the Pub/Sub emulator"
  export PUBSUB_EMULATOR_HOST=127.0.0.1:$port
  export CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB=http://127.0.0.1:$port/
  export CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true CLOUDSDK_CORE_PROJECT=$EMULATOR_PROJECT
}

pubsub_rest() { # method path [json]
  curl -sf -X "$1" -H 'Content-Type: application/json' ${3:+--data "$3"} \
    "http://$PUBSUB_EMULATOR_HOST/v1/projects/$EMULATOR_PROJECT/$2" >/dev/null
}


# Starts fake-gcs-server on port 80 of its own loopback address (the Rust
# storage crate drops the port from Host; root may bind port 80) with the
# given options, appending to log-file. Exports STORAGE_EMULATOR_HOST.
start_gcs_with() { # host log-file option...
  local host=$1 log=$2; shift 2
  [ "$(id -u)" -eq 0 ] || { echo "fake-gcs-server must listen on port 80 of $host: run as root" >&2; exit 1; }
  ensure_free "$host" 80 "fake-gcs-server"
  .dev/fake-gcs-server -scheme http -host "$host" -port 80 "$@" >>"$log" 2>&1 &
  pids+=($!)
  wait_port "$host" 80 "fake-gcs-server"
  export STORAGE_EMULATOR_HOST=http://$host
}

# fake-gcs-server in memory, with the buckets and objects found in
# data-dir, publishing OBJECT_FINALIZE notifications to topic.
start_gcs() { # host data-dir topic log-file
  start_gcs_with "$1" "$4" -backend memory -data "$2" \
    -event.pubsub-project-id "$EMULATOR_PROJECT" -event.pubsub-topic "$3" -event.list finalize
}

# Publishes a Cloud Storage notification (OBJECT_FINALIZE, JSON_API_V1) for
# each object named, its payload the object's resource as the emulator
# describes it (generation, size, MD5), 200 to a request.
publish_notifications() { # topic bucket name...
  local topic=$1 bucket=$2; shift 2
  curl -sf "$STORAGE_EMULATOR_HOST/storage/v1/b/$bucket/o?maxResults=100000" |
    python3 -c '
import base64, json, sys
names, listed = set(sys.argv[1:]), json.load(sys.stdin)["items"]
items = [o for o in listed if o["name"] in names]
def message(o):
    attributes = {"eventType": "OBJECT_FINALIZE", "payloadFormat": "JSON_API_V1",
                  "bucketId": o["bucket"], "objectId": o["name"], "objectGeneration": str(o["generation"])}
    return {"attributes": attributes, "data": base64.b64encode(json.dumps(o).encode()).decode()}
for i in range(0, len(items), 200):
    print(json.dumps({"messages": [message(o) for o in items[i:i + 200]]}))' "$@" |
    while read -r batch; do
      # Too long for an argument: curl reads it from a file of its own.
      local file; file=$(mktemp)
      printf '%s' "$batch" >"$file"
      pubsub_rest POST "topics/$topic:publish" "@$file"
      rm -f "$file"
    done
}

# Publishes one JSON job per object name to topic, 200 to a request.
publish_jobs() { # topic bucket name...
  local topic=$1 bucket=$2; shift 2
  while [ $# -gt 0 ]; do
    local batch=("${@:1:200}") messages
    shift $(( $# < 200 ? $# : 200 ))
    messages=$(for name in "${batch[@]}"; do
      printf '{"data":"%s"}\n' "$(printf '{"bucket":"%s","name":"%s"}' "$bucket" "$name" | base64 -w0)"
    done | paste -sd, -)
    pubsub_rest POST "topics/$topic:publish" "{\"messages\": [$messages]}"
  done
}
