#!/bin/sh
# kafka-cluster.sh — cluster id, unregister a broker
exec /opt/kafka/bin/kafka-run-class.sh org.apache.kafka.tools.ClusterTool "$@"
