#!/usr/bin/python3
"""Follows a Kafka topic while it is produced, read with python3-kafka.

An independent consumer for Keystone's end-to-end tests and benchmarks: reads
every partition from its beginning as messages arrive (the mock cluster keeps
only ~5 MiB per partition, so a test consumes while producing), and stamps
each with the time it was received (CLOCK_MONOTONIC, the clock of C++'s
std::chrono::steady_clock on Linux). On a line "stop" on stdin (or its end)
it reads on up to the end offsets of that moment, then exits.

usage: follow_topic.py BOOTSTRAP TOPIC TIMEOUT_SECONDS

Output: "READY" once partitions are assigned, then one line per message,
tab-separated, as dump_topic.py's plus the receive time:
  M  partition  offset  key  value  headers  received_ns
The last line is "END <count>". Exit status 3 on timeout (TIMEOUT_SECONDS
bounds the drain after "stop" and the wait for metadata).
"""

import os
import select
import sys
import time

from kafka import KafkaConsumer, TopicPartition


def enc(data):
    return "-" if data is None else "x" + data.hex()


def main():
    bootstrap, topic, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
    deadline = time.monotonic() + timeout
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap.split(","),
        group_id=None,
        enable_auto_commit=False,
        api_version=(2, 5, 0),
        auto_offset_reset="earliest",
        fetch_max_wait_ms=5,
        max_poll_records=5000,
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
    print("READY", flush=True)
    out = sys.stdout
    count = 0
    ends = None
    while True:
        if ends is None:
            ready, _, _ = select.select([sys.stdin], [], [], 0)
            if ready:
                line = sys.stdin.readline()
                if line == "" or line.strip() == "stop":
                    ends = consumer.end_offsets(tps)
                    deadline = time.monotonic() + timeout
        else:
            if all(consumer.position(tp) >= ends[tp] for tp in tps):
                break
            if time.monotonic() > deadline:
                print("timed out draining", file=sys.stderr)
                return 3
        batches = consumer.poll(timeout_ms=20)
        now = time.monotonic_ns()
        for tp, records in batches.items():
            for r in records:
                headers = ",".join(name + "=" + enc(value) for name, value in r.headers) or "-"
                out.write("M\t%d\t%d\t%s\t%s\t%s\t%d\n" %
                          (r.partition, r.offset, enc(r.key), enc(r.value), headers, now))
                count += 1
        if batches:
            out.flush()
    print("END", count, flush=True)
    consumer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
