#!/usr/bin/env python3
"""kafka-verify.py PRODUCER_OUT CONSUMED_OUT — the verdict of a no-loss test.

PRODUCER_OUT: VerifiableProducer JSON lines (producer_send_success with partition/offset,
producer_send_error); CONSUMED_OUT: kafka-console-consumer lines with print.partition and
print.offset ("Partition:P<TAB>Offset:O<TAB>VALUE"). First line of output:
  acked=A failed_sends=F consumed=C lost=L not_at_acked_offset=M duplicates=D
then the first lost / moved values and the send errors by exception. Standard library only."""
import json, re, sys
acked, failed, errors = {}, 0, {}
for line in open(sys.argv[1]):
    try:
        ev = json.loads(line)
    except ValueError:
        continue
    if ev.get("name") == "producer_send_success":
        acked[ev["value"]] = (int(ev["partition"]), int(ev["offset"]))
    elif ev.get("name") == "producer_send_error":
        failed += 1
        errors[ev.get("exception", "?")] = errors.get(ev.get("exception", "?"), 0) + 1
at, values = {}, {}
for line in open(sys.argv[2]):
    m = re.match(r"Partition:(\d+)\s+Offset:(\d+)\s+(.*)$", line.rstrip("\n"))
    if not m:
        continue
    p, o, v = int(m.group(1)), int(m.group(2)), m.group(3)
    at[(p, o)] = v
    values[v] = values.get(v, 0) + 1
lost = [v for v in acked if v not in values]
moved = [v for v, po in acked.items() if v in values and at.get(po) != v]
dups = sum(c - 1 for c in values.values() if c > 1)
print(f"acked={len(acked)} failed_sends={failed} consumed={sum(values.values())} lost={len(lost)} "
      f"not_at_acked_offset={len(moved)} duplicates={dups}")
if lost:
    print("lost (first 20): " + " ".join(sorted(lost, key=lambda x: int(x) if x.isdigit() else 0)[:20]))
if moved:
    print("not at the acked partition/offset (first 10): " + " ".join(moved[:10]))
for k, n in errors.items():
    print(f"send error: {k} x{n}")
