#!/bin/sh
# kafka-reassign-partitions.sh — move partitions between brokers
exec /opt/kafka/bin/kafka-run-class.sh org.apache.kafka.tools.reassign.ReassignPartitionsCommand "$@"
