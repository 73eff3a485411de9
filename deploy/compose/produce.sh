#!/usr/bin/env bash
# The compose demo's Kafka helper, run in the apache/kafka image (compose.yaml):
#
#   produce.sh create-topics   create driftwatch's input topics (kafka-init)
#   produce.sh produce         send the simulated event files to them, one record a line
#                              (producer); nothing when the topics already hold records
#
# driftwatch has no command that produces files to Kafka; Kafka's own console producer
# sends each line of a file as one record (no key: the ingest stage re-keys by employee).
set -euo pipefail

bootstrap="${BOOTSTRAP:-kafka:9092}"
sim="${SIM_DIR:-/sim}"
partitions="${INPUT_PARTITIONS:-3}"
bin=/opt/kafka/bin

# topic -> event file of `driftwatch simulate`, as [[kafka.input]] in driftwatch.toml.
inputs=(
    "logs.okta events/okta.ndjson"
    "logs.vpn events/vpn-cisco-asa.log"
)

records_in() {
    # Sum of the end offsets of every partition ("topic:partition:offset" lines).
    "$bin/kafka-get-offsets.sh" --bootstrap-server "$bootstrap" --topic "$1" --time -1 |
        awk -F: '{ n += $NF } END { print n + 0 }'
}

case "${1:-}" in
    create-topics)
        for input in "${inputs[@]}"; do
            read -r topic _ <<<"$input"
            "$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --create --if-not-exists \
                --topic "$topic" --partitions "$partitions" --replication-factor 1
        done
        ;;
    produce)
        for input in "${inputs[@]}"; do
            read -r topic file <<<"$input"
            have="$(records_in "$topic")"
            if [ "$have" -gt 0 ]; then
                echo "produce.sh: $topic already holds $have records; not producing again"
                continue
            fi
            lines="$(wc -l <"$sim/$file")"
            echo "produce.sh: $sim/$file ($lines records) -> $topic"
            "$bin/kafka-console-producer.sh" --bootstrap-server "$bootstrap" --topic "$topic" \
                <"$sim/$file"
        done
        echo "produce.sh: done"
        ;;
    *)
        echo "usage: produce.sh create-topics|produce" >&2
        exit 2
        ;;
esac
