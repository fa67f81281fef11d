#!/bin/sh
# kafka-run-class.sh CLASS [ARGS...] — runs one Kafka class from /opt/kafka/libs.
# The broker (kafka-server-start.sh) reads KAFKA_HEAP_OPTS and KAFKA_OPTS, as in the
# Apache distribution. Command-line tools read KAFKA_TOOLS_OPTS instead of KAFKA_OPTS, so a
# tool run with `kubectl exec` in a broker's container does not start a second JMX
# exporter agent on the broker's metrics port.
set -e
[ $# -ge 1 ] || { echo "usage: kafka-run-class.sh CLASS [ARGS...]" >&2; exit 2; }
class=$1
shift
if [ "$class" = kafka.Kafka ]; then
	heap=${KAFKA_HEAP_OPTS:--XX:MaxRAMPercentage=50 -XX:InitialRAMPercentage=10}
	jvm=${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError}
	opts=${KAFKA_OPTS:-}
	log4j=${KAFKA_LOG4J_OPTS:--Dlog4j.configuration=file:/opt/kafka/config/log4j.properties}
else
	heap=${KAFKA_TOOLS_HEAP_OPTS:--Xmx256m}
	jvm="-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData"
	opts=${KAFKA_TOOLS_OPTS:-}
	log4j=-Dlog4j.configuration=file:/opt/kafka/config/tools-log4j.properties
fi
# shellcheck disable=SC2086 # the option variables are word lists, as in Apache's scripts
exec java $heap $jvm -Djava.awt.headless=true $log4j $opts -cp '/opt/kafka/libs/*' "$class" "$@"
