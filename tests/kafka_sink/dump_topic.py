#!/usr/bin/python3
"""Prints every message of a Kafka topic, read with python3-kafka.

An independent consumer for Keystone's tests: not librdkafka, so it checks
what any Kafka client sees. Reads each partition from its beginning up to the
end offset seen at start, then exits.

usage: dump_topic.py BOOTSTRAP TOPIC TIMEOUT_SECONDS

Output, one line per message, tab-separated:
  M  partition  offset  key  value  headers
where key and value are "-" for null or "x" + hex of the bytes, and headers
is "-" or name=x<hex> joined by ",". The last line is "END <count>".
Exit status 3 when the partitions could not be read before the timeout.
"""

import sys
import time

from kafka import KafkaConsumer, TopicPartition


def enc(data):
    return "-" if data is None else "x" + data.hex()


def main():
    bootstrap, topic, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
    deadline = time.monotonic() + timeout
    # python3-kafka 2.0.2 cannot probe the mock cluster's API versions
    # reliably, and has no isolation_level: read_uncommitted is what it does.
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap.split(","),
        group_id=None,
        enable_auto_commit=False,
        api_version=(2, 5, 0),
        auto_offset_reset="earliest",
    )
    partitions = None
    while partitions is None:
        partitions = consumer.partitions_for_topic(topic)
        if partitions is None:
            if time.monotonic() > deadline:
                print("no metadata for topic", topic, file=sys.stderr)
                return 3
            time.sleep(0.1)
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    ends = consumer.end_offsets(tps)
    remaining = {tp for tp in tps if ends[tp] > 0}
    count = 0
    while remaining:
        if time.monotonic() > deadline:
            print("timed out; unfinished:", remaining, file=sys.stderr)
            return 3
        batches = consumer.poll(timeout_ms=200)
        for tp, records in batches.items():
            for r in records:
                if r.offset >= ends[tp]:
                    continue
                headers = ",".join(name + "=" + enc(value) for name, value in r.headers) or "-"
                print("M", r.partition, r.offset, enc(r.key), enc(r.value), headers, sep="\t")
                count += 1
        for tp in list(remaining):
            if consumer.position(tp) >= ends[tp]:
                remaining.discard(tp)
    print("END", count)
    consumer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
