#!/bin/sh
# kafka-server-start.sh — the broker/controller: kafka-server-start.sh PROPERTIES [--override k=v ...]
exec /opt/kafka/bin/kafka-run-class.sh kafka.Kafka "$@"
