"""A worker in the style of freundallein/sqs-scheduler's own: it knows nothing of Baton.

It long-polls an SQS work queue with boto3, reads each message as a JSON-RPC 2.0 request
(`method` is the action, `params` a flat object of strings holding `attempt`, `id` a string),
runs the action, sends the JSON-RPC response to the results queue, and deletes the message.
As freundallein/sqs-scheduler's workers do, results are flat objects of strings that echo
`attempt`, and an error is `{"code": "-32000", "message": ..., "attempt": ...}`.

Run it against the queues a Baton node dispatches to and reads results from
(docs/brokers.md): nothing in it changes for Baton.

    python worker.py --work URL --results URL [--endpoint URL] [--error-rate 0.2]

Actions: `export` copies `objectID` into `exportedID` (the seed's example worker exports a
row); any other action is answered with an error. `--error-rate` fails that fraction of
attempts on purpose (the seed's "random errors"), so that retries can be watched.
"""

import argparse
import json
import random
import signal
import sys

import boto3


def run_action(method, params):
    if method == "export":
        return {"exportedID": params["objectID"], "status": "exported"}
    raise ValueError(f"unknown action {method}")


def answer(message_body, error_rate):
    request = json.loads(message_body)
    if not isinstance(request, dict) or request.get("jsonrpc") != "2.0" or not isinstance(request.get("id"), str):
        return None
    params = request.get("params") or {}
    if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
        # freundallein/sqs-scheduler's worker decodes params as map[string]string.
        return {"jsonrpc": "2.0", "id": request["id"],
                "error": {"code": "-32602", "message": "params must be strings", "attempt": "0"}}
    attempt = params.get("attempt", "1")
    try:
        if random.random() < error_rate:
            raise RuntimeError("random error")
        result = run_action(request.get("method"), params)
        result["attempt"] = attempt
        return {"jsonrpc": "2.0", "id": request["id"], "result": result}
    except Exception as error:  # the action failed: the scheduler retries it
        return {"jsonrpc": "2.0", "id": request["id"],
                "error": {"code": "-32000", "message": str(error), "attempt": attempt}}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", required=True)
    parser.add_argument("--results", required=True)
    parser.add_argument("--endpoint")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--error-rate", type=float, default=0.0)
    args = parser.parse_args()

    sqs = boto3.client("sqs", region_name=args.region, endpoint_url=args.endpoint)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    handled = 0
    while not stopping:
        received = sqs.receive_message(QueueUrl=args.work, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in received.get("Messages", []):
            response = answer(message["Body"], args.error_rate)
            if response is not None:
                sqs.send_message(QueueUrl=args.results, MessageBody=json.dumps(response))
                handled += 1
            sqs.delete_message(QueueUrl=args.work, ReceiptHandle=message["ReceiptHandle"])
    print(f"worker: handled {handled} messages", file=sys.stderr)


if __name__ == "__main__":
    main()
