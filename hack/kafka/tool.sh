#!/usr/bin/env bash
# hack/kafka/tool.sh — runs one Kafka command-line tool class from the fetched jars,
# e.g. `tool.sh org.apache.kafka.tools.TopicCommand --bootstrap-server IP:9092 --list`.
# Logs warnings only, on stderr; small heap, C1 only: these tools live for seconds.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
[ $# -ge 1 ] || { log "usage: tool.sh MAIN_CLASS [args...]"; exit 2; }
home="${KAFKA_HOME:-$(bash "$BALLAST_ROOT/hack/install-kafka.sh" 2>/dev/null)}"
exec java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData \
	-Dlog4j.configuration="file:$BALLAST_ROOT/hack/kafka/tools-log4j.properties" \
	-cp "$home/libs/*" "$@"
