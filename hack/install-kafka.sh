#!/usr/bin/env bash
# hack/install-kafka.sh — fetches the published Apache Kafka jars (broker, KRaft,
# tools, a log4j binding) and the Prometheus JMX exporter java agent with Maven into
# $BALLAST_CACHE/kafka/<version>/{libs,agent}; prints the directory. Idempotent: a
# complete fetch (stamp file) is skipped, so a second run takes well under a second.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KAFKA_VERSION="${KAFKA_VERSION:-3.9.1}"
JMX_EXPORTER_VERSION="${JMX_EXPORTER_VERSION:-1.0.1}"
OUT="$BALLAST_CACHE/kafka/$KAFKA_VERSION-jmx$JMX_EXPORTER_VERSION"
STAMP="$OUT/.complete"
# the stamp names the template it was fetched with: editing the pom refetches
WANT="$(md5sum <"$BALLAST_ROOT/hack/kafka/pom.xml.in" | cut -d' ' -f1)"

fetched() { [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; }

if fetched; then
	log "kafka $KAFKA_VERSION + jmx exporter $JMX_EXPORTER_VERSION already in $OUT"
	echo "$OUT"
	exit 0
fi

step "lock $BALLAST_CACHE/kafka/.lock"
# brokers started in parallel on a cold cache would otherwise fetch into one directory
mkdir -p "$BALLAST_CACHE/kafka"
exec 9>"$BALLAST_CACHE/kafka/.lock"
flock -w 600 9
if fetched; then
	log "kafka $KAFKA_VERSION fetched meanwhile by another process"
	echo "$OUT"
	exit 0
fi

step "check java and mvn"
command -v java >/dev/null || { log "java not found (need a JDK >= 17)"; false; }
command -v mvn >/dev/null || { log "mvn not found (apt-get install maven)"; false; }

step "generate pom for kafka $KAFKA_VERSION, jmx exporter $JMX_EXPORTER_VERSION"
work="$OUT.tmp"
rm -rf "$work"
mkdir -p "$work"
sed -e "s#@KAFKA_VERSION@#$KAFKA_VERSION#g" -e "s#@JMX_EXPORTER_VERSION@#$JMX_EXPORTER_VERSION#g" \
	-e "s#@OUT@#$work#g" "$BALLAST_ROOT/hack/kafka/pom.xml.in" >"$work/pom.xml"

step "mvn: resolve and copy kafka + jmx exporter jars (local repo $BALLAST_CACHE/m2)"
# Own local repository under the cache: a CI cache of $BALLAST_CACHE carries it.
mvn -B -q -f "$work/pom.xml" -Dmaven.repo.local="$BALLAST_CACHE/m2" package >"$work/mvn.log" 2>&1 ||
	{ tail -40 "$work/mvn.log" >&2; false; }

step "check the fetched jars"
ls "$work"/libs/kafka_2.13-"$KAFKA_VERSION".jar "$work"/libs/kafka-tools-"$KAFKA_VERSION".jar \
	"$work"/libs/reload4j-*.jar "$work"/agent/jmx_prometheus_javaagent.jar >/dev/null
rm -f "$work/pom.xml"
# swap in whole: a broker running from the old jars keeps its open files
rm -rf "$OUT.old"
[ ! -d "$OUT" ] || mv "$OUT" "$OUT.old"
mv "$work" "$OUT"
rm -rf "$OUT.old"
echo "$WANT" >"$STAMP"
log "kafka $KAFKA_VERSION: $(ls "$OUT/libs" | wc -l) jars in $OUT/libs, agent in $OUT/agent"
echo "$OUT"
