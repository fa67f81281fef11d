#!/bin/sh
# kafka-log-dirs.sh — describe log directories
exec /opt/kafka/bin/kafka-run-class.sh org.apache.kafka.tools.LogDirsCommand "$@"
