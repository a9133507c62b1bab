"""Propose one action with the unmodified traceprotocol SDK, optionally
authenticated by a principal's API token on the SDK's own HTTP session, and
print the hub's answer (HTTP status and JSON body) as one JSON line.

usage: trace_propose.py ENDPOINT TYPE [--token TOKEN] [--actor NAME]
"""
import argparse
import json

import requests
from trace_client import Actor, TraceClient

ap = argparse.ArgumentParser()
ap.add_argument("endpoint")
ap.add_argument("type")
ap.add_argument("--token")
ap.add_argument("--actor", default="mail-bot")
a = ap.parse_args()

trace = TraceClient(endpoint=a.endpoint)
if a.token:
    trace.api._session.headers["Authorization"] = "Bearer " + a.token
try:
    d = trace.propose(type=a.type, actor=Actor(kind="agent", name=a.actor), target="mailto:x@y.z", params={"n": 1})
    print(json.dumps({"http": 200, "body": d}))
except requests.HTTPError as e:
    print(json.dumps({"http": e.response.status_code, "body": e.response.json()}))
