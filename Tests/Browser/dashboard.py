"""Drives Baton's dashboard (GET /ui) in a real browser: Debian's chromium through Playwright.

Run by Tests/EndToEndTests/DashboardTests.swift against a `baton standalone` with tokens, after
it stored known work; it checks what the page shows and clicks what an operator clicks, and the
Swift test then checks the effects through the API. Every step waits for the page (Playwright's
`expect`, 15 s) and a failure exits 1 naming the step, with a screenshot in --artifacts.

    python dashboard.py --url URL --producer-token P --admin-token A --chromium /usr/bin/chromium \
        --tasks '{"failed": ID, "sleeping": ID, "html": ID, "member": ID}' --artifacts DIR
"""

import argparse
import json
import sys
import urllib.request

from playwright.sync_api import expect, sync_playwright

WAIT_MS = 15_000


def submit(url, token, task):
    """Submits a task (or a list of them) through the API, as a producer program would (`token`
    `None`: a node without tokens)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    request = urllib.request.Request(url + "/v1/tasks", data=json.dumps(task).encode(), headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.load(response)
        return answer["tasks"] if isinstance(task, list) else answer["id"]


def use_token(page, token):
    page.click("#token-open")
    expect(page.locator("#token-form")).to_be_visible()
    page.fill("#token-input", token)
    page.click("#token-form button[type=submit]")
    expect(page.locator("#token-form")).to_be_hidden()


def open_task(page, task):
    """Opens a task's details by typing its id in the id box."""
    page.fill("#goto", task)
    page.press("#goto", "Enter")
    expect(page.locator("#detail dl dd").first).to_have_text(task)


def drive(chromium, artifacts, name, scenario):
    """Runs `scenario(page, step)` in a fresh chromium page: `step(text)` names what follows;
    a failure exits 1 naming the step, with a screenshot NAME-failure.png in `artifacts`, and
    so does any script error or console error (other than 401/403) on the page."""
    expect.set_options(timeout=WAIT_MS)
    current = ["start"]

    def step(text):
        current[0] = text

    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where chromium's sandbox cannot start.
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="en-US")
        problems = []
        page.on("pageerror", lambda error: problems.append("page error: %s" % error))
        page.on(
            "console",
            lambda message: problems.append("console %s: %s" % (message.type, message.text))
            if message.type == "error" and "401" not in message.text and "403" not in message.text
            else None,
        )
        try:
            scenario(page, step)
            step("no script error on the page")
            if problems:
                raise AssertionError("; ".join(problems))
        except Exception as error:  # noqa: BLE001 - any failure names its step
            page.screenshot(path="%s/%s-failure.png" % (artifacts, name), full_page=True)
            print("%s: FAILED at step '%s': %s" % (name, current[0], error), file=sys.stderr)
            for problem in problems:
                print("  " + problem, file=sys.stderr)
            browser.close()
            return 1
        browser.close()
    print("%s: ok" % name)
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--producer-token", required=True)
    parser.add_argument("--admin-token", required=True)
    parser.add_argument("--chromium", required=True)
    parser.add_argument("--tasks", required=True, help="JSON: the ids of the failed, sleeping and html tasks and of a chain's second member")
    parser.add_argument("--artifacts", required=True)
    args = parser.parse_args()
    tasks = json.loads(args.tasks)

    def scenario(page, step):
        step("the page asks for a token (the node has tokens)")
        page.goto(args.url + "/ui")
        expect(page.locator("#token-form")).to_be_visible()
        expect(page.locator("#token-reason")).to_contain_text("needs a token")

        step("with a producer token, the queue's counts show the stored work")
        page.fill("#token-input", args.producer_token)
        page.click("#token-form button[type=submit]")
        queue = page.locator('#queues tr[data-queue="default"]')
        expect(queue.locator('td[data-state="succeeded"]')).to_have_text("6")
        expect(queue.locator('td[data-state="failed"]')).to_have_text("1")
        expect(queue.locator('td[data-state="running"]')).to_have_text("1")

        step("schedules need an admin token: the section says so")
        expect(page.locator("#schedules .problem")).to_contain_text("role")

        step("the failed task is listed with its error")
        failed = page.locator('#failed tr[data-task="%s"]' % tasks["failed"])
        expect(failed).to_contain_text("failed on purpose")

        step("the sleeping task's progress arrives live")
        sleeping = page.locator('#tasks tr[data-task="%s"]' % tasks["sleeping"])
        expect(sleeping.locator("td.progress .bar")).to_be_visible()
        expect(page.locator('#events tr[data-event="progress"]').first).to_contain_text("slept")

        step("a task submitted now shows up in the live events and the list")
        new = submit(args.url, args.producer_token, {"kind": "echo", "args": {"from": "dashboard"}})
        expect(page.locator('#events tr[data-event="transitioned"] a[title="%s"]' % new).first).to_be_visible()
        expect(page.locator('#tasks tr[data-task="%s"][data-state="succeeded"]' % new)).to_be_visible()

        step("a burst of 3,000 tasks: the page keeps the newest 100 events and its counts follow")
        for _ in range(6):
            submit(args.url, args.producer_token, [{"kind": "noop"} for _ in range(500)])
        expect(queue.locator('td[data-state="succeeded"]')).to_have_text("3,007", timeout=60_000)
        expect(page.locator("#events tbody tr")).to_have_count(100)

        step("a task's arguments are shown as text, never as markup")
        open_task(page, tasks["html"])
        expect(page.locator("#detail dl dd").first).to_have_text(tasks["html"])
        expect(page.locator("#detail")).not_to_contain_text("[object")
        expect(page.locator('#detail pre[data-field="args"]')).to_contain_text('<img src=x onerror=')
        if page.locator("#detail img").count() != 0 or page.evaluate("window.__xss") is not None:
            raise AssertionError("the arguments' markup was interpreted")
        page.click('#detail button:text("Close")')
        expect(page.locator("#detail")).to_be_hidden()

        step("the list filters by kind")
        page.fill("#tasks-kind", "fail")
        page.press("#tasks-kind", "Enter")
        expect(page.locator("#tasks tbody tr")).to_have_count(1)
        expect(page.locator('#tasks tbody tr[data-task="%s"]' % tasks["failed"])).to_be_visible()
        page.fill("#tasks-kind", "")
        page.press("#tasks-kind", "Enter")
        expect(page.locator("#tasks tbody tr")).to_have_count(25)

        step("a task found by its id shows its workflow's members")
        open_task(page, tasks["member"])
        members = page.locator('#detail table[data-field="workflow"] tr')
        expect(members).to_have_count(2)
        expect(members.nth(0)).to_contain_text("extract")
        expect(members.nth(1)).to_contain_text("load")
        expect(members.nth(1)).to_contain_text("succeeded")
        expect(page.locator("#detail")).not_to_contain_text("[object")
        expect(page.locator('#detail pre[data-field="result"]')).to_have_text("2")
        page.click('#detail button:text("Close")')

        step("with an admin token the schedules show")
        use_token(page, args.admin_token)
        expect(page.locator('#schedules tr[data-schedule="nightly"]')).to_contain_text("0 3 * * *")
        expect(page.locator("#schedules .problem")).to_be_empty()

        step("retry the failed task")
        failed.locator('button[data-action="retry"]').click()
        expect(page.locator("#toast")).to_contain_text("Retrying")

        step("cancel the sleeping task from its details")
        open_task(page, tasks["sleeping"])
        page.locator('#detail button[data-action="cancel"]').click()
        expect(page.locator("#detail h2 .badge")).to_have_text("cancelled")
        page.click('#detail button:text("Close")')

        step("delete a finished task (confirmed in a dialog)")
        page.once("dialog", lambda dialog: dialog.accept())
        open_task(page, tasks["html"])
        page.locator('#detail button[data-action="delete"]').click()
        expect(page.locator("#toast")).to_contain_text("Deleted")
        expect(page.locator("#detail")).to_be_hidden()

        step("pause the queue")
        queue.locator('button[data-action="pause"]').click()
        expect(queue.locator(".badge.paused")).to_be_visible()
        expect(queue.locator('button[data-action="resume"]')).to_be_visible()

    return drive(args.chromium, args.artifacts, "dashboard", scenario)


if __name__ == "__main__":
    sys.exit(main())
