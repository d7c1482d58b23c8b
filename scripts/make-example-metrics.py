#!/usr/bin/env python3
"""Writes examples/metrics/web-primary-cpu.csv: three days of one-minute CPUUtilization samples
for the README's "tune your alarm" walkthrough. Deterministic (fixed seed), standard library only.

What is in it:
  - ordinary load, 8-35%, with noise;
  - a batch job at 02:00 every night that pegs the CPU for 3 minutes (not an outage);
  - no data from 2026-11-02T09:00Z to 09:25Z (the instance was stopped for patching);
  - the incident: from 2026-11-03T14:10Z the primary is saturated (95-100%) until it is replaced.
"""
import datetime
import random

random.seed(20261101)
start = datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc)
rows = ["timestamp,value"]
for minute in range(3 * 24 * 60):
    at = start + datetime.timedelta(minutes=minute, seconds=17)
    day, hour, minute_of_hour = minute // 1440, at.hour, at.minute
    if day == 1 and hour == 9 and minute_of_hour < 25:
        continue  # stopped for patching: no samples
    value = 8 + 14 * (1 + (hour - 4) / 20 if 4 <= hour <= 20 else 1) / 2 + random.uniform(-4, 8)
    if hour == 2 and minute_of_hour < 3:
        value = random.uniform(78, 92)  # nightly batch job
    if day == 2 and (hour, minute_of_hour) >= (14, 10) and hour < 16:
        value = random.uniform(95, 100)  # the incident
    rows.append(f"{at.strftime('%Y-%m-%dT%H:%M:%SZ')},{value:.1f}")
with open("examples/metrics/web-primary-cpu.csv", "w") as out:
    out.write("\n".join(rows) + "\n")
