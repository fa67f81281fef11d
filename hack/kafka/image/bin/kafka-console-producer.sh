#!/bin/sh
# kafka-console-producer.sh — produce lines from stdin
exec /opt/kafka/bin/kafka-run-class.sh kafka.tools.ConsoleProducer "$@"
