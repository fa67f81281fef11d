#!/bin/sh
# kafka-verifiable-producer.sh — a producer that reports every acknowledged message (JSON lines)
exec /opt/kafka/bin/kafka-run-class.sh org.apache.kafka.tools.VerifiableProducer "$@"
