#!/usr/bin/env python3
"""Cold start and one invocation of the coldstandby Lambda function, beside the usual Python
recipe, on loopback only.

For each contender, a fresh moto server holds the article's instances (EC2-1 running, EC2-2
stopped), a stand-in for the Lambda Runtime API serves one CloudWatch ALARM event, and the
function process is started as the Lambda service would start it: for coldstandby, the
deployment zip that scripts/package-lambda builds is unzipped into a task root and its
`bootstrap` is executed there with no arguments and Lambda's environment. Measured:

  cold start   process start -> its first request for an event (initialisation done)
  invocation   event handed over -> response posted (the failover itself)
  total        process start -> response posted
  peak RSS     the process's peak resident set size (VmHWM), read before it is stopped

The Python contender is a minimal handler doing what the article's recipe does (check the
standby, start it, wait with boto3's instance_running waiter), run under a minimal stand-in
for Lambda's Python runtime loop. It does not stop the primary (the recipe leaves that to a
separate EC2 alarm action). Moto answers instantly, so the invocation times measure the
functions' own overhead, not EC2's.

    scripts/bench-lambda.py [--runs N]      (needs target/release/coldstandby and moto)
"""
import argparse
import http.server
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BINARY = ROOT / "target" / "release" / "coldstandby"
PACKAGE = ROOT / "target" / "lambda" / "bench" / "coldstandby-lambda.zip"
EVENT = ROOT / "examples" / "events" / "cpu-alarm.json"
REGION = "ap-northeast-1"

PYTHON_HANDLER = '''
import boto3

def handler(event, context):
    ec2 = boto3.client("ec2", region_name="ap-northeast-1")
    standby = STANDBY
    status = ec2.describe_instance_status(InstanceIds=[standby], IncludeAllInstances=True)
    if status["InstanceStatuses"][0]["InstanceState"]["Name"] == "running":
        return {"statusCode": 200, "body": "already running"}
    ec2.start_instances(InstanceIds=[standby])
    ec2.get_waiter("instance_running").wait(InstanceIds=[standby])
    return {"statusCode": 200, "body": "started"}
'''

PYTHON_RUNTIME = '''
import json, os, sys, urllib.request
sys.path.insert(0, os.environ["HANDLER_DIR"])
import handler as module
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(api + "next") as response:
        request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(response.read())
    result = module.handler(event, None)
    body = json.dumps(result).encode()
    urllib.request.urlopen(urllib.request.Request(api + request_id + "/response", data=body, method="POST")).read()
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Moto:
    """A moto server with the article's instances."""

    def __init__(self):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            ["moto_server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise SystemExit("moto_server did not start")
                time.sleep(0.1)
        import boto3

        ec2 = boto3.client(
            "ec2",
            region_name=REGION,
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]
            for zone, cidr in [("ap-northeast-1a", "10.0.1.0/24"), ("ap-northeast-1c", "10.0.2.0/24")]
        ]
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        ids = [
            ec2.run_instances(ImageId=image, InstanceType="t3.micro", SubnetId=s, MinCount=1, MaxCount=1)["Instances"][0][
                "InstanceId"
            ]
            for s in subnets
        ]
        ec2.stop_instances(InstanceIds=[ids[1]])
        self.primary, self.standby = ids

    def stop(self):
        self.process.kill()
        self.process.wait()


class RuntimeApi:
    """Serves one event on GET .../invocation/next and records when things happened."""

    def __init__(self, event):
        self.event = json.dumps(event).encode()
        self.first_next = None
        self.delivered = None
        self.responded = None
        self.response = None
        self.done = threading.Event()
        self.stopped = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if not self.path.endswith("/invocation/next"):
                    self.send_error(404)
                    return
                if outer.first_next is not None:
                    outer.stopped.wait(60)  # a second poll: hold it until the process is killed
                    return
                outer.first_next = time.perf_counter()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Lambda-Runtime-Aws-Request-Id", "bench-1")
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 300_000))
                self.send_header(
                    "Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:ap-northeast-1:111122223333:function:bench"
                )
                self.send_header("Content-Length", str(len(outer.event)))
                self.end_headers()
                self.wfile.write(outer.event)
                outer.delivered = time.perf_counter()

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                outer.response = (self.path, self.rfile.read(length).decode())
                outer.responded = time.perf_counter()
                self.send_response(202)
                self.end_headers()
                outer.done.set()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.done.set()
        self.stopped.set()
        self.server.shutdown()


def peak_resident_kb(pid):
    """The process's peak resident set size since exec, from /proc (Linux)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise SystemExit(f"no VmHWM for process {pid}: it exited before answering")


def package():
    """The deployment zip of the release binary, as users deploy it."""
    subprocess.run(
        [str(ROOT / "scripts" / "package-lambda"), "--binary", str(BINARY), "--output", str(PACKAGE)],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def unpack(task_root):
    """Unzip the package as Lambda does, keeping the permissions the zip records."""
    with zipfile.ZipFile(PACKAGE) as archive:
        for info in archive.infolist():
            archive.extract(info, task_root)
            os.chmod(os.path.join(task_root, info.filename), (info.external_attr >> 16) & 0o777)
    return Path(task_root, "bootstrap")


def measure(contender, moto):
    event = json.loads(EVENT.read_text().replace("i-0a1b2c3d4e5f60718", moto.primary))
    api = RuntimeApi(event)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "_HANDLER": "bootstrap",
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": moto.endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    with tempfile.TemporaryDirectory() as work:
        if contender == "coldstandby (Rust)":
            env["COLDSTANDBY_CONFIG"] = (
                f'region = "{REGION}"\n[[group]]\nname = "web"\nprimary = "{moto.primary}"\n'
                f'standbys = ["{moto.standby}"]\nalarms = ["web-primary-cpu-high"]\n'
            )
            env["LAMBDA_TASK_ROOT"] = work
            command = [str(unpack(work))]
        else:
            Path(work, "handler.py").write_text(PYTHON_HANDLER.replace("STANDBY", repr(moto.standby)))
            env["HANDLER_DIR"] = work
            command = [sys.executable, "-c", PYTHON_RUNTIME]
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        finished = api.done.wait(120)
        # VmHWM is the peak resident size since exec. (wait4's ru_maxrss would also count the
        # moment between fork and exec, when the child is still a copy of this Python process.)
        peak_kb = peak_resident_kb(process.pid)
        try:
            os.kill(process.pid, 9)  # not Popen.kill(): it polls, and a poll would reap the child
        except ProcessLookupError:
            pass
        os.waitpid(process.pid, 0)
        process.returncode = -9
        stderr = process.stderr.read().decode(errors="replace")
        api.stop()
    if not finished or api.response is None or not api.response[0].endswith("/response"):
        raise SystemExit(f"{contender}: no successful response\n{api.response}\n{stderr[-2000:]}")
    return {
        "cold_start_ms": (api.first_next - started) * 1000,
        "invocation_ms": (api.responded - api.delivered) * 1000,
        "total_ms": (api.responded - started) * 1000,
        "peak_rss_mb": peak_kb / 1024,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per contender (default 5)")
    args = parser.parse_args()
    if not BINARY.exists():
        raise SystemExit(f"{BINARY} is missing: cargo build --release -p coldstandby")
    package()
    results = {}
    for contender in ["coldstandby (Rust)", "article recipe (Python, boto3)"]:
        runs = []
        for _ in range(args.runs):
            moto = Moto()
            try:
                runs.append(measure(contender, moto))
            finally:
                moto.stop()
        results[contender] = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    print(f"Lambda cold start and one invocation, median of {args.runs} runs (moto on loopback as EC2)")
    print(f"{'':32} {'cold start':>12} {'invocation':>12} {'total':>10} {'peak RSS':>10}")
    for contender, r in results.items():
        print(
            f"{contender:32} {r['cold_start_ms']:>9.1f} ms {r['invocation_ms']:>9.1f} ms "
            f"{r['total_ms']:>7.1f} ms {r['peak_rss_mb']:>7.1f} MB"
        )
    print(f"deployment zip (scripts/package-lambda): {PACKAGE.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
