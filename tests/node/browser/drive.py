#!/usr/bin/env python3
"""Loads a page in headless Chromium through chromedriver (WebDriver over HTTP) and prints the
text of its `#out` element once it holds DONE (or FAILED), waiting up to a minute.

Usage: drive.py URL DONE [FAILED]. Exits 1 if DONE never shows."""
import json
import socket
import subprocess
import sys
import time
import urllib.request

url, done = sys.argv[1], sys.argv[2]
failed = sys.argv[3] if len(sys.argv) > 3 else None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


port = free_port()
driver = subprocess.Popen(["chromedriver", f"--port={port}"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
base = f"http://127.0.0.1:{port}"


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)["value"]


try:
    for _ in range(100):
        try:
            call("GET", "/status")
            break
        except OSError:
            time.sleep(0.1)
    args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
    session = call("POST", "/session", {"capabilities": {"alwaysMatch": {
        "goog:chromeOptions": {"args": args}}}})["sessionId"]
    call("POST", f"/session/{session}/url", {"url": url})
    text = ""
    for _ in range(600):
        text = call("POST", f"/session/{session}/execute/sync", {
            "script": "return document.getElementById('out').textContent", "args": []})
        if done in text or (failed and failed in text):
            break
        time.sleep(0.1)
    call("DELETE", f"/session/{session}")
    print(text)
    if done not in text:
        sys.exit(f"the page never showed {done!r}")
finally:
    driver.kill()
