#!/bin/sh
# kafka-storage.sh — format or inspect the log directories
exec /opt/kafka/bin/kafka-run-class.sh kafka.tools.StorageTool "$@"
