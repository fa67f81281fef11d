#!/bin/sh
# kafka-broker-api-versions.sh — list brokers and their API versions
exec /opt/kafka/bin/kafka-run-class.sh kafka.admin.BrokerApiVersionsCommand "$@"
