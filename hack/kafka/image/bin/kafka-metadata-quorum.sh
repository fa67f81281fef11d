#!/bin/sh
# kafka-metadata-quorum.sh — describe the KRaft quorum
exec /opt/kafka/bin/kafka-run-class.sh org.apache.kafka.tools.MetadataQuorumCommand "$@"
