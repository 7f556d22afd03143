"""Judges Autobahn|Testsuite's reports (tests/autobahn/run): every case of every agent must
be OK, NON-STRICT or INFORMATIONAL, except the cases whose messages are binary.

Usage: check.py REPORT_DIR=AGENT[,AGENT...] ...

Cap'n Web carries text only: a binary message is refused (the transport ends, as the
reference's does) where these cases expect it echoed, so their result is not judged:
  1.2.*  binary messages of 0 to 64 KiB
  9.2.*  binary messages of 64 KiB to 16 MiB
  9.4.*  a 4 MiB binary message in fragments of 64 bytes to 4 MiB
  9.6.*  a 1 MiB binary message written in chops of 64 to 2048 bytes
  9.8.*  1000 binary messages of 0 to 4096 bytes, one at a time
Every other case is judged, those sending binary data as a protocol violation among them
(3.5, a binary message with a reserved bit, must be refused with 1002) and pings with binary
payloads (2.3 to 2.6). Compression (12.*, 13.*) is not run at all: no extension is
negotiated.
"""

import json
import os
import re
import sys

BINARY = ("1.2.", "9.2.", "9.4.", "9.6.", "9.8.")
PASSING = ("OK", "NON-STRICT", "INFORMATIONAL")
# The cases of autobahntestsuite 25.10.1 (pinned) less 12.* and 13.*.
CASES = 301


def case_key(case):
    return [int(part) for part in case.split(".")]


def main(args):
    passed = failed = 0
    case_sets = {}
    for arg in args:
        directory, agents = arg.split("=", 1)
        with open(os.path.join(directory, "index.json")) as f:
            index = json.load(f)
        for agent in agents.split(","):
            cases = index.get(agent)
            if not cases:
                print("autobahn: no report for %s in %s" % (agent, directory))
                failed += 1
                continue
            case_sets[agent] = set(cases)
            counts = {}
            binary = 0
            for case in sorted(cases, key=case_key):
                result = cases[case]
                with open(os.path.join(directory, result["reportfile"])) as f:
                    description = re.sub(r"\s+", " ", json.load(f)["description"])
                if case.startswith(BINARY):
                    # The suite's cases are numbered as pinned: these send binary messages.
                    if "binary message" not in description.lower():
                        print("autobahn: %s %s is not a binary case: %s" % (agent, case, description))
                        failed += 1
                    binary += 1
                    continue
                behavior = result["behavior"]
                counts[behavior] = counts.get(behavior, 0) + 1
                if behavior in PASSING:
                    passed += 1
                else:
                    failed += 1
                    print("autobahn: %s case %s %s (close %s): %s (%s)" % (
                        agent, case, behavior, result["behaviorClose"], description,
                        os.path.join(directory, result["reportfile"].replace(".json", ".html"))))
            print("autobahn: %s: %s; %d binary-message cases not judged" % (
                agent, ", ".join("%d %s" % (n, b) for b, n in sorted(counts.items())), binary))
    for agent, cases in case_sets.items():
        if len(cases) != CASES:
            print("autobahn: %s ran %d cases, not %d" % (agent, len(cases), CASES))
            failed += 1
    print("autobahn: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
