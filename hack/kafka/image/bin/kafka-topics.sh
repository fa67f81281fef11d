#!/bin/sh
# kafka-topics.sh — create, describe, alter topics
exec /opt/kafka/bin/kafka-run-class.sh org.apache.kafka.tools.TopicCommand "$@"
