"""Drives the dashboard of one node of a PostgreSQL cluster in a real browser (chromium through
Playwright), while the work runs through another node.

Run by Tests/EndToEndTests/DashboardTests.swift against two `baton serve` processes on one
PostgreSQL schema: node A serves the page, node B is the only node a `baton worker` knows, and
every task is submitted through B. The page of A must show the cluster (counts, the worker,
live events and progress) and steer it (cancel a task running on B's worker, pause and resume
the queue that B dispatches). Prints the id of the task submitted while the queue was paused,
for the Swift test to check through the API.

    python dashboard_cluster.py --url A_URL --other B_URL --chromium /usr/bin/chromium \
        --sleeping ID --worker WORKER_ID --artifacts DIR
"""

import argparse
import sys

from dashboard import drive, expect, open_task, submit


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="node A, whose dashboard is driven")
    parser.add_argument("--other", required=True, help="node B, through which tasks are submitted")
    parser.add_argument("--chromium", required=True)
    parser.add_argument("--sleeping", required=True, help="a task running on B's worker")
    parser.add_argument("--worker", required=True, help="the id of the worker that talks only to B")
    parser.add_argument("--artifacts", required=True)
    args = parser.parse_args()

    def scenario(page, step):
        step("A's page counts the work done through B")
        page.goto(args.url + "/ui")
        queue = page.locator('#queues tr[data-queue="default"]')
        expect(queue.locator('td[data-state="succeeded"]')).to_have_text("3")
        expect(queue.locator('td[data-state="running"]')).to_have_text("1")

        step("A lists the worker that talks only to B")
        worker = page.locator('#workers tr[data-worker="%s"]' % args.worker)
        expect(worker).to_contain_text("http", timeout=25_000)
        expect(worker).to_contain_text("default")

        step("the progress the sleeping task reports to B arrives live on A")
        sleeping = page.locator('#tasks tr[data-task="%s"]' % args.sleeping)
        expect(sleeping.locator("td.progress .bar")).to_be_visible()
        expect(page.locator('#events tr[data-event="progress"]').first).to_contain_text("slept")

        step("a task submitted through B shows up in A's live events and list")
        new = submit(args.other, None, {"kind": "echo", "args": {"through": "B"}})
        expect(page.locator('#events tr[data-event="transitioned"] a[title="%s"]' % new).first).to_be_visible()
        expect(page.locator('#tasks tr[data-task="%s"][data-state="succeeded"]' % new)).to_be_visible()

        step("cancel from A the task running on B's worker")
        open_task(page, args.sleeping)
        page.locator('#detail button[data-action="cancel"]').click()
        expect(page.locator("#detail h2 .badge")).to_have_text("cancelled")
        page.click('#detail button:text("Close")')
        expect(sleeping).to_have_attribute("data-state", "cancelled")

        step("pause the queue from A: a task submitted through B waits")
        queue.locator('button[data-action="pause"]').click()
        expect(queue.locator(".badge.paused")).to_be_visible()
        waiting = submit(args.other, None, {"kind": "echo", "args": {"while": "paused"}})
        row = page.locator('#tasks tr[data-task="%s"]' % waiting)
        expect(row).to_have_attribute("data-state", "ready")
        page.wait_for_timeout(3000)
        expect(row).to_have_attribute("data-state", "ready", timeout=1)

        step("resume the queue from A: B's worker runs the waiting task")
        queue.locator('button[data-action="resume"]').click()
        expect(queue.locator(".badge.paused")).to_have_count(0)
        expect(row).to_have_attribute("data-state", "succeeded")
        print("waited: %s" % waiting)

    return drive(args.chromium, args.artifacts, "dashboard-cluster", scenario)


if __name__ == "__main__":
    sys.exit(main())
