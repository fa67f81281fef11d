#!/bin/sh
# kafka-console-consumer.sh — print consumed messages
exec /opt/kafka/bin/kafka-run-class.sh org.apache.kafka.tools.consumer.ConsoleConsumer "$@"
