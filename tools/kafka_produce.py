#!/usr/bin/env python3
"""Produces notices to a Kafka topic with confluent-kafka, as GCN's producers
do: `kafka_produce.py BROKER TOPIC FILE...` (a FILE of `-` is a record that
is not XML). Creates the topic (one partition) when it is missing."""

import sys

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic


def main() -> int:
    broker, topic, *files = sys.argv[1:]
    admin = AdminClient({"bootstrap.servers": broker})
    if topic not in admin.list_topics(timeout=30).topics:
        for f in admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)]).values():
            f.result(timeout=30)
    producer = Producer({"bootstrap.servers": broker})
    for name in files:
        value = b"this is not a VOEvent" if name == "-" else open(name, "rb").read()
        producer.produce(topic, value)
    left = producer.flush(30)
    print(f"{len(files) - left} record(s) produced to {topic}")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
