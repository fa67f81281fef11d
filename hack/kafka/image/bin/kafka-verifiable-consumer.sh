#!/bin/sh
# kafka-verifiable-consumer.sh — a consumer that reports what it consumed (JSON lines)
exec /opt/kafka/bin/kafka-run-class.sh org.apache.kafka.tools.VerifiableConsumer "$@"
