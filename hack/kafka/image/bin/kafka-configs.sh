#!/bin/sh
# kafka-configs.sh — describe or alter broker and topic configs
exec /opt/kafka/bin/kafka-run-class.sh kafka.admin.ConfigCommand "$@"
