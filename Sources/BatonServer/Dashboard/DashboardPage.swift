// The dashboard's page: its markup, style and script, served as one document by `GET /ui`
// (Dashboard.swift). No external asset: it works on a machine without internet access.
// Everything the API returns is put in the page as text (`textContent`), never as markup.

extension Dashboard {
    static let style = #"""
        :root { color-scheme: light dark; --fg: #1d2430; --muted: #677185; --bg: #f6f7f9; --card: #fff; --line: #e2e5ea;
          --accent: #3657d6; --ok: #1f8a4c; --bad: #c23a3a; --warn: #b7791f; --idle: #6b7280; }
        @media (prefers-color-scheme: dark) {
          :root { --fg: #e6e9ef; --muted: #9aa3b5; --bg: #12151b; --card: #1a1f27; --line: #2b323d; --accent: #7f9bff; }
        }
        * { box-sizing: border-box; }
        body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
        header { display: flex; align-items: center; gap: 16px; padding: 10px 20px; background: var(--card); border-bottom: 1px solid var(--line); }
        header h1 { font-size: 18px; margin: 0; letter-spacing: .5px; }
        header .spacer { flex: 1; }
        #live { font-size: 13px; color: var(--muted); }
        #live::before { content: ""; display: inline-block; width: 8px; height: 8px; border-radius: 50%; margin-right: 6px; background: var(--idle); }
        #live.on::before { background: var(--ok); }
        #live.off::before { background: var(--bad); }
        main { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; padding: 16px 20px; }
        section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; min-width: 0; }
        section.wide { grid-column: 1 / -1; }
        section h2 { font-size: 15px; margin: 0 0 8px; display: flex; align-items: baseline; gap: 10px; }
        section h2 small { font-weight: normal; color: var(--muted); font-size: 12px; }
        section h2 .spacer { flex: 1; }
        a.queue { color: inherit; cursor: pointer; text-decoration: underline dotted; }
        .problem { color: var(--bad); margin: 4px 0; }
        .problem:empty { display: none; }
        table { width: 100%; border-collapse: collapse; }
        th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
        th { font-weight: 600; color: var(--muted); font-size: 12px; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
        td.wrap { white-space: normal; word-break: break-word; }
        td.empty { color: var(--muted); text-align: center; padding: 14px; }
        .scroll { overflow-x: auto; }
        .badge { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px; background: var(--line); }
        .s-succeeded { background: #d5f3e0; color: #14532d; } .s-failed { background: #fbdada; color: #7f1d1d; }
        .s-running { background: #dbe4ff; color: #1e3a8a; } .s-ready { background: #fdf0cf; color: #78350f; }
        .s-cancelled, .s-waiting, .s-pending { background: var(--line); color: var(--fg); }
        .paused { background: #fdf0cf; color: #78350f; margin-left: 6px; }
        button { font: inherit; font-size: 12px; padding: 2px 10px; border-radius: 5px; border: 1px solid var(--line); background: var(--card); color: var(--fg); cursor: pointer; }
        button:hover { border-color: var(--accent); }
        button:disabled { opacity: .5; cursor: default; }
        a.task { color: var(--accent); cursor: pointer; font-family: ui-monospace, monospace; font-size: 12px; text-decoration: none; }
        .bar { width: 80px; height: 6px; background: var(--line); border-radius: 3px; overflow: hidden; display: inline-block; vertical-align: middle; }
        .bar > span { display: block; height: 100%; background: var(--accent); }
        .muted { color: var(--muted); }
        select, input { font: inherit; font-size: 13px; padding: 2px 6px; border: 1px solid var(--line); border-radius: 5px; background: var(--card); color: var(--fg); }
        #token-form { display: none; gap: 8px; align-items: center; padding: 10px 20px; background: #fdf0cf; color: #3b2a06; }
        #token-form.shown { display: flex; }
        #toast { position: fixed; bottom: 16px; right: 16px; max-width: 420px; padding: 10px 14px; border-radius: 6px; background: var(--fg); color: var(--bg); display: none; }
        #toast.shown { display: block; }
        #detail { position: fixed; top: 0; right: 0; bottom: 0; width: min(560px, 100%); background: var(--card); border-left: 1px solid var(--line);
          padding: 16px; overflow: auto; display: none; box-shadow: -4px 0 16px rgba(0,0,0,.12); }
        #detail.shown { display: block; }
        #detail pre { background: var(--bg); padding: 8px; border-radius: 6px; overflow: auto; max-height: 260px; font-size: 12px; }
        #detail dl { display: grid; grid-template-columns: 130px 1fr; gap: 3px 10px; margin: 8px 0; }
        #detail dt { color: var(--muted); }
        #detail dd { margin: 0; word-break: break-all; }
        .actions { display: flex; gap: 8px; margin: 10px 0; }
        """#

    static let markup = #"""
        <header>
          <h1>Baton</h1>
          <span id="live" class="off">connecting…</span>
          <span class="spacer"></span>
          <span id="clock" class="muted"></span>
          <button id="token-open" type="button">Token</button>
        </header>
        <form id="token-form">
          <span id="token-reason">This node needs a token.</span>
          <input id="token-input" type="password" autocomplete="off" placeholder="bearer token" size="36">
          <button type="submit">Use token</button>
          <button id="token-forget" type="button">Forget</button>
          <span class="muted">kept for this tab only</span>
        </form>
        <main>
          <section id="queues" class="wide">
            <h2>Queues <small id="queues-age"></small></h2>
            <p class="problem"></p>
            <div class="scroll"><table>
              <thead><tr><th>queue</th><th class="num">waiting</th><th class="num">pending</th><th class="num">ready</th>
                <th class="num">running</th><th class="num">succeeded</th><th class="num">failed</th><th class="num">cancelled</th>
                <th class="num">oldest ready</th><th></th></tr></thead>
              <tbody></tbody>
            </table></div>
          </section>
          <section id="tasks" class="wide">
            <h2>Recent tasks
              <select id="tasks-state" aria-label="state">
                <option value="">every state</option><option>waiting</option><option>pending</option><option>ready</option>
                <option>running</option><option>succeeded</option><option>failed</option><option>cancelled</option>
              </select>
              <input id="tasks-queue" placeholder="queue" size="12" aria-label="queue">
              <input id="tasks-kind" placeholder="kind" size="14" aria-label="kind">
              <span class="spacer"></span>
              <input id="goto" placeholder="task id" size="38" aria-label="task id">
              </h2>
            <p class="problem"></p>
            <div class="scroll"><table>
              <thead><tr><th>task</th><th>kind</th><th>queue</th><th>state</th><th class="num">attempt</th><th>progress</th>
                <th>created</th><th>last error</th></tr></thead>
              <tbody></tbody>
            </table></div>
            <p><button id="tasks-more" type="button" hidden>Older tasks</button></p>
          </section>
          <section id="failed">
            <h2>Failed tasks <small>attempts used up or not retryable</small></h2>
            <p class="problem"></p>
            <div class="scroll"><table>
              <thead><tr><th>task</th><th>kind</th><th>queue</th><th>finished</th><th>error</th><th></th></tr></thead>
              <tbody></tbody>
            </table></div>
          </section>
          <section id="schedules">
            <h2>Schedules</h2>
            <p class="problem"></p>
            <div class="scroll"><table>
              <thead><tr><th>schedule</th><th>cron</th><th>kind</th><th>next</th><th></th></tr></thead>
              <tbody></tbody>
            </table></div>
          </section>
          <section id="workers">
            <h2>Workers <small>seen in the last 5 minutes (on PostgreSQL, by any node)</small></h2>
            <p class="problem"></p>
            <div class="scroll"><table>
              <thead><tr><th>worker</th><th>transport</th><th>queues</th><th class="num">kinds</th><th class="num">running</th>
                <th class="num">concurrency</th><th>last seen</th></tr></thead>
              <tbody></tbody>
            </table></div>
          </section>
          <section id="events">
            <h2>Live events <small>newest first, the last 100 · <span id="events-rate">0 events/s</span></small></h2>
            <p class="problem"></p>
            <div class="scroll"><table>
              <thead><tr><th>time</th><th>event</th><th>task</th><th>queue</th><th>what</th></tr></thead>
              <tbody></tbody>
            </table></div>
          </section>
        </main>
        <aside id="detail" aria-live="polite"></aside>
        <div id="toast" role="status"></div>
        """#

    static let script = #"""
        "use strict";
        const STATES = ["waiting", "pending", "ready", "running", "succeeded", "failed", "cancelled"];
        const ENDED = ["succeeded", "failed", "cancelled"];
        const $ = (selector, root = document) => root.querySelector(selector);
        const ui = { token: sessionStorage.getItem("baton.token") || "", lastEventId: "", cursor: null, paged: false,
          pending: [], progress: new Map(), received: 0, listsChanged: false, schedulesChanged: false,
          timers: {}, stream: null, serverSkew: 0 };

        // An element whose text children are text, never markup.
        function el(tag, props, ...children) {
          const node = document.createElement(tag);
          for (const [key, value] of Object.entries(props || {})) {
            if (value === undefined || value === null || value === false) continue;
            if (key === "class") node.className = value;
            else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
            else node.setAttribute(key, value === true ? "" : String(value));
          }
          for (const child of present(children)) {
            node.append(child instanceof Node ? child : document.createTextNode(String(child)));
          }
          return node;
        }

        // The nodes of a list that may nest and hold gaps (null, undefined, false).
        function present(...items) {
          return items.flat(Infinity).filter((item) => item !== undefined && item !== null && item !== false);
        }

        class APIError extends Error {
          constructor(status, code, message) { super(message); this.status = status; this.code = code; }
        }

        async function api(path, method = "GET", body) {
          const headers = { "Accept": "application/json" };
          if (ui.token) headers["Authorization"] = "Bearer " + ui.token;
          if (body !== undefined) headers["Content-Type"] = "application/json";
          let response;
          try {
            response = await fetch(path, { method, headers, cache: "no-store", body: body === undefined ? undefined : JSON.stringify(body) });
          } catch (error) {
            throw new APIError(0, "unreachable", "the node does not answer");
          }
          if (response.status === 401) askToken(ui.token ? "The node refused this token." : "This node needs a token.");
          // The node's clock, when it differs from this one by more than the header's 1 s resolution.
          const date = response.headers.get("Date");
          if (date) { const skew = Date.parse(date) - Date.now(); ui.serverSkew = Math.abs(skew) > 2000 ? skew : 0; }
          if (response.status === 204) return null;
          let json = null;
          try { json = await response.json(); } catch (error) { json = null; }
          if (!response.ok) {
            const problem = (json && json.error) || {};
            throw new APIError(response.status, problem.code || "error", problem.message || response.statusText);
          }
          return json;
        }

        function problem(section, error) {
          const target = $("#" + section + " .problem");
          if (!error) { target.textContent = ""; return; }
          if (error.status === 403) target.textContent = "Your token's role may not read this (" + error.message + ").";
          else if (error.status === 401) target.textContent = "Needs a token.";
          else target.textContent = error.message;
        }

        function toast(text) {
          const box = $("#toast");
          box.textContent = text;
          box.classList.add("shown");
          clearTimeout(ui.timers.toast);
          ui.timers.toast = setTimeout(() => box.classList.remove("shown"), 5000);
        }

        async function act(label, call) {
          try { await call(); toast(label); refreshSoon(0); }
          catch (error) { toast(error.message); }
        }

        // Formatting.
        const number = new Intl.NumberFormat();
        function ago(iso) {
          if (!iso) return "";
          const seconds = Math.max(0, (Date.now() + ui.serverSkew - Date.parse(iso)) / 1000);
          if (seconds < 1) return "just now";
          if (seconds < 90) return Math.round(seconds) + " s ago";
          if (seconds < 5400) return Math.round(seconds / 60) + " min ago";
          if (seconds < 129600) return Math.round(seconds / 3600) + " h ago";
          return Math.round(seconds / 86400) + " d ago";
        }
        function until(iso) {
          const seconds = (Date.parse(iso) - Date.now() - ui.serverSkew) / 1000;
          if (seconds <= 0) return "due";
          if (seconds < 90) return "in " + Math.round(seconds) + " s";
          if (seconds < 5400) return "in " + Math.round(seconds / 60) + " min";
          return new Date(iso).toLocaleString();
        }
        function duration(seconds) {
          if (seconds < 90) return Math.round(seconds) + " s";
          if (seconds < 5400) return Math.round(seconds / 60) + " min";
          return Math.round(seconds / 3600) + " h";
        }
        const short = (id) => String(id).slice(-12);
        const badge = (state) => el("span", { class: "badge s-" + state }, state);
        function taskLink(id) {
          return el("a", { class: "task", href: "#task=" + id, title: id, onclick: (event) => { event.preventDefault(); showTask(id); } }, short(id));
        }
        function progressBar(progress) {
          if (!progress) return el("span", { class: "muted" }, "");
          const fill = el("span");
          fill.style.width = Math.round(Math.min(1, Math.max(0, progress.fraction)) * 100) + "%";
          return el("span", { title: progress.message || "" }, el("span", { class: "bar" }, fill), " " + Math.round(progress.fraction * 100) + "%");
        }
        function emptyRow(columns, text) { return el("tr", {}, el("td", { class: "empty", colspan: columns }, text)); }

        // Sections.
        // A section's table from one API read: `rows` makes its rows from the answer, `empty`
        // is said when there are none, and a failure is said in the section. Returns the answer.
        async function loadTable(section, path, columns, empty, rows) {
          try {
            const data = await api(path);
            const made = rows(data);
            $("#" + section + " tbody").replaceChildren(...(made.length ? made : [emptyRow(columns, empty)]));
            problem(section);
            return data;
          } catch (error) { problem(section, error); return null; }
        }

        // Pause or Resume for a queue or a schedule (`/v1/queues/NAME`, `/v1/schedules/NAME`).
        function pauseButton(collection, name, paused) {
          return el("button", { type: "button", "data-action": paused ? "resume" : "pause",
            onclick: () => act((paused ? "Resumed " : "Paused ") + name,
              () => api("/v1/" + collection + "/" + encodeURIComponent(name) + (paused ? "/resume" : "/pause"), "POST")) },
            paused ? "Resume" : "Pause");
        }

        const pausedBadge = (paused) => paused ? el("span", { class: "badge paused" }, "paused") : null;

        async function loadQueues() {
          const data = await loadTable("queues", "/v1/queues", 10, "No tasks yet.", (data) => data.queues.map((queue) => el("tr", { "data-queue": queue.name },
            el("td", {}, el("a", { class: "queue", title: "show this queue's tasks", onclick: () => { $("#tasks-queue").value = queue.name; loadTasks(); } }, queue.name),
              pausedBadge(queue.paused)),
            STATES.map((state) => el("td", { class: "num", "data-state": state }, number.format(queue.counts[state] || 0))),
            el("td", { class: "num" }, queue.oldest_ready_at ? duration(Math.max(0, (Date.parse(data.as_of) - Date.parse(queue.oldest_ready_at)) / 1000)) : "—"),
            el("td", {}, pauseButton("queues", queue.name, queue.paused)))));
          if (data) $("#queues-age").textContent = "counts " + duration(data.age_seconds) + " old";
        }

        function taskRow(task) {
          return el("tr", { "data-task": task.id, "data-state": task.state },
            el("td", {}, taskLink(task.id)), el("td", {}, task.kind), el("td", {}, task.queue), el("td", {}, badge(task.state)),
            el("td", { class: "num" }, task.attempt + "/" + task.max_attempts), el("td", { class: "progress" }, progressBar(task.progress)),
            el("td", { title: task.created_at }, ago(task.created_at)),
            el("td", { class: "wrap muted" }, task.last_error ? String(task.last_error).slice(0, 160) : ""));
        }

        async function loadTasks(more = false) {
          const state = $("#tasks-state").value;
          const queue = $("#tasks-queue").value.trim();
          const kind = $("#tasks-kind").value.trim();
          let path = "/v1/tasks?limit=25" + (state ? "&state=" + state : "");
          if (queue) path += "&queue=" + encodeURIComponent(queue);
          if (kind) path += "&kind=" + encodeURIComponent(kind);
          if (more && ui.cursor) path += "&cursor=" + encodeURIComponent(ui.cursor);
          try {
            const data = await api(path);
            const rows = data.tasks.map(taskRow);
            const body = $("#tasks tbody");
            if (more) body.append(...rows);
            else body.replaceChildren(...(rows.length ? rows : [emptyRow(8, state || queue || kind ? "No task matches." : "No tasks yet.")]));
            ui.cursor = data.next_cursor;
            ui.paged = more;
            $("#tasks-more").hidden = !data.next_cursor;
            problem("tasks");
          } catch (error) { problem("tasks", error); }
        }

        function loadFailed() {
          return loadTable("failed", "/v1/tasks?state=failed&limit=20", 6, "No failed tasks.", (data) => data.tasks.map((task) => el("tr", { "data-task": task.id },
            el("td", {}, taskLink(task.id)), el("td", {}, task.kind), el("td", {}, task.queue),
            el("td", { title: task.finished_at || "" }, ago(task.finished_at)),
            el("td", { class: "wrap" }, String(task.last_error || "").slice(0, 200)),
            el("td", {}, el("button", { type: "button", "data-action": "retry",
              onclick: () => act("Retrying " + short(task.id), () => api("/v1/tasks/" + task.id + "/retry", "POST")) }, "Retry")))));
        }

        function loadSchedules() {
          return loadTable("schedules", "/v1/schedules", 5, "No schedules.", (data) => data.schedules.map((schedule) => el("tr", { "data-schedule": schedule.name },
            el("td", {}, schedule.name, pausedBadge(schedule.paused)),
            el("td", { title: schedule.timezone }, schedule.cron || schedule.every || ""),
            el("td", {}, schedule.task ? schedule.task.kind : ""),
            el("td", { title: (schedule.next || [])[0] || "" }, schedule.paused || !(schedule.next || []).length ? "—" : until(schedule.next[0])),
            el("td", {}, pauseButton("schedules", schedule.name, schedule.paused)))));
        }

        function loadWorkers() {
          return loadTable("workers", "/v1/workers", 7, "No worker was seen lately.", (data) => data.workers.map((worker) => el("tr", { "data-worker": worker.worker },
            el("td", {}, worker.worker), el("td", {}, worker.transport), el("td", { class: "wrap" }, (worker.queues || []).join(", ")),
            el("td", { class: "num", title: (worker.kinds || []).map((kind) => kind.name).join(", ") }, (worker.kinds || []).length),
            el("td", { class: "num" }, worker.running ?? ""), el("td", { class: "num" }, worker.concurrency ?? ""),
            el("td", { title: worker.last_seen }, ago(worker.last_seen)))));
        }

        async function showTask(id) {
          const panel = $("#detail");
          try {
            const task = await api("/v1/tasks/" + encodeURIComponent(id));
            const facts = [["id", task.id], ["kind", task.kind], ["queue", task.queue], ["state", task.state],
              ["attempt", task.attempt + " of " + task.max_attempts], ["priority", task.priority], ["created", task.created_at],
              ["run at", task.run_at], ["started", task.started_at], ["finished", task.finished_at], ["workflow", task.workflow_id], ["workflow node", task.node],
              ["unique key", task.unique_key], ["tags", (task.tags || []).join(", ")], ["worker", task.lease_owner]]
              .filter(([, value]) => value !== undefined && value !== null && value !== "");
            const buttons = [];
            if (!ENDED.includes(task.state)) buttons.push(el("button", { type: "button", "data-action": "cancel",
              onclick: () => act("Cancelled " + short(id), async () => { await api("/v1/tasks/" + id + "/cancel", "POST"); showTask(id); }) }, "Cancel"));
            if (ENDED.includes(task.state)) buttons.push(el("button", { type: "button", "data-action": "retry",
              onclick: () => act("Retrying " + short(id), async () => { await api("/v1/tasks/" + id + "/retry", "POST"); showTask(id); }) }, "Retry"));
            if (ENDED.includes(task.state)) buttons.push(el("button", { type: "button", "data-action": "delete",
              onclick: () => { if (confirm("Delete task " + id + "?")) act("Deleted " + short(id), async () => { await api("/v1/tasks/" + id, "DELETE"); closeDetail(); }); } }, "Delete"));
            buttons.push(el("button", { type: "button", onclick: closeDetail }, "Close"));
            let workflow = null;
            if (task.workflow_id) {
              try {
                const flow = await api("/v1/workflows/" + encodeURIComponent(task.workflow_id));
                workflow = [el("h3", {}, "Workflow ", badge(flow.state)),
                  el("table", { "data-field": "workflow" }, el("tbody", {}, flow.nodes.map((node) => el("tr", { "data-task": node.id },
                    el("td", {}, node.name), el("td", {}, el("a", { class: "task", href: "#task=" + node.id, title: node.id,
                      onclick: (event) => { event.preventDefault(); showTask(node.id); } }, short(node.id))),
                    el("td", {}, node.kind), el("td", {}, badge(node.state), node.skipped ? " skipped" : "")))))];
              } catch (error) { workflow = el("p", { class: "problem" }, "Workflow: " + error.message); }
            }
            panel.replaceChildren(...present(
              el("h2", {}, task.kind, " ", badge(task.state)),
              el("div", { class: "actions" }, buttons),
              el("dl", {}, facts.map(([name, value]) => [el("dt", {}, name), el("dd", {}, String(value))])),
              task.progress ? el("p", {}, progressBar(task.progress), " ", task.progress.message || "") : null,
              el("h3", {}, "Arguments"), el("pre", { "data-field": "args" }, JSON.stringify(task.args, null, 2)),
              "result" in task ? [el("h3", {}, "Result"), el("pre", { "data-field": "result" }, JSON.stringify(task.result, null, 2))] : null,
              (task.errors || []).length ? [el("h3", {}, "Errors"), el("pre", { "data-field": "errors" },
                task.errors.map((error) => "attempt " + error.attempt + " at " + error.at + ": " + error.message).join("\n"))] : null,
              workflow));
            panel.classList.add("shown");
            history.replaceState(null, "", "#task=" + id);
          } catch (error) { toast(error.message); }
        }

        function closeDetail() {
          $("#detail").classList.remove("shown");
          history.replaceState(null, "", location.pathname);
        }

        // Live events: the node's Server-Sent Events, read with fetch so that the token goes in a header.
        function setLive(text, on) {
          const live = $("#live");
          live.textContent = text;
          live.className = on ? "on" : "off";
        }

        function describe(name, data) {
          switch (name) {
            case "enqueued": return data.kind || "";
            case "claimed": return (data.kind || "") + " by " + (data.worker || "?") + (data.wait_ms !== undefined ? ", waited " + data.wait_ms + " ms" : "");
            case "transitioned": return (data.from ? data.from + " → " : "→ ") + data.to + (data.run_ms !== undefined ? " in " + data.run_ms + " ms" : "")
              + (data.lease_expired ? " (lease expired)" : "");
            case "progress": return Math.round((data.fraction || 0) * 100) + "% " + (data.message || "");
            case "rescued": return data.count + " expired leases";
            case "schedule_fired": return data.schedule + ": " + (data.tasks || []).length + " tasks";
            case "leadership": return data.is_leader ? "this node leads" : "this node follows";
            case "gap": return "events may be missing: " + (data.reason || "");
            default: return "";
          }
        }

        // Events are shown in batches, at most four times a second, whatever their rate: a busy
        // node sends thousands a second, and the page keeps the newest 100 and each task's
        // latest progress.
        const SHOWN_EVENTS = 100;
        const CHANGING = ["enqueued", "claimed", "transitioned", "rescued", "schedule_fired"];

        function onEvent(name, data) {
          ui.pending.push([name, data, new Date()]);
          if (ui.pending.length > SHOWN_EVENTS) ui.pending.splice(0, ui.pending.length - SHOWN_EVENTS);
          ui.received += 1;
          if (name === "progress") ui.progress.set(data.task, data);
          if (name === "schedule_fired") ui.schedulesChanged = true;
          if (CHANGING.includes(name)) ui.listsChanged = true;
          if (!ui.timers.render) ui.timers.render = setTimeout(showEvents, 250);
        }

        function showEvents() {
          ui.timers.render = null;
          const batch = ui.pending.reverse();
          ui.pending = [];
          const body = $("#events tbody");
          if (body.querySelector("td.empty")) body.replaceChildren();
          body.prepend(...batch.map(([name, data, at]) => el("tr", { "data-event": name },
            el("td", {}, at.toLocaleTimeString()), el("td", {}, name),
            el("td", {}, data.task ? taskLink(data.task) : ""), el("td", {}, data.queue || ""), el("td", { class: "wrap" }, describe(name, data)))));
          while (body.children.length > SHOWN_EVENTS) body.lastElementChild.remove();
          for (const [task, data] of ui.progress) {
            for (const cell of document.querySelectorAll('tr[data-task="' + CSS.escape(task) + '"] td.progress')) {
              cell.replaceChildren(progressBar({ fraction: data.fraction, message: data.message }));
            }
          }
          ui.progress.clear();
          if (ui.schedulesChanged) { ui.schedulesChanged = false; loadSchedules(); }
          if (ui.listsChanged) { ui.listsChanged = false; refreshSoon(1000); }
        }

        function parseBlock(block) {
          let id = null, name = "message";
          const data = [];
          for (const line of block.split(/\r?\n/)) {
            if (!line || line.startsWith(":")) continue;
            const colon = line.indexOf(":");
            const field = colon < 0 ? line : line.slice(0, colon);
            let value = colon < 0 ? "" : line.slice(colon + 1);
            if (value.startsWith(" ")) value = value.slice(1);
            if (field === "id") id = value;
            else if (field === "event") name = value;
            else if (field === "data") data.push(value);
          }
          if (id !== null) ui.lastEventId = id;
          if (!data.length) return;
          let payload;
          try { payload = JSON.parse(data.join("\n")); } catch (error) { return; }
          onEvent(name, payload);
        }

        async function follow() {
          for (;;) {
            const controller = new AbortController();
            ui.stream = controller;
            try {
              const headers = { "Accept": "text/event-stream" };
              if (ui.token) headers["Authorization"] = "Bearer " + ui.token;
              if (ui.lastEventId) headers["Last-Event-ID"] = ui.lastEventId;
              const response = await fetch("/v1/events", { headers, signal: controller.signal, cache: "no-store" });
              if (response.status === 401 || response.status === 403) {
                setLive(response.status === 401 ? "live events need a token" : "this token may not read events", false);
                problem("events", new APIError(response.status, "", "needs a producer token"));
                await new Promise((resolve) => { ui.tokenChanged = resolve; });
                continue;
              }
              if (!response.ok || !response.body) throw new Error("HTTP " + response.status);
              setLive("live", true);
              problem("events");
              const reader = response.body.getReader();
              const decoder = new TextDecoder();
              let buffer = "";
              for (;;) {
                const { value, done } = await reader.read();
                if (done) break;
                // Split once per chunk: a chunk may carry a thousand events.
                const blocks = (buffer + decoder.decode(value, { stream: true })).split(/\r?\n\r?\n/);
                buffer = blocks.pop();
                for (const block of blocks) parseBlock(block);
              }
            } catch (error) {
              if (controller.signal.aborted) continue;
            }
            setLive("reconnecting…", false);
            await new Promise((resolve) => setTimeout(resolve, 2000));
          }
        }

        // Refreshing: counts every 5 s (the node counts in the background), lists soon after events.
        // At most one refresh waits at a time, so that a steady flow of events still refreshes
        // every second; a list paged back by hand is left as it is.
        function refreshSoon(delay) {
          if (ui.timers.refresh && delay > 0) return;
          clearTimeout(ui.timers.refresh);
          ui.timers.refresh = setTimeout(() => {
            ui.timers.refresh = null;
            loadQueues();
            if (!ui.paged) loadTasks();
            loadFailed();
          }, delay);
        }

        function loadAll() { loadQueues(); loadTasks(); loadFailed(); loadSchedules(); loadWorkers(); }

        function askToken(reason) {
          $("#token-reason").textContent = reason;
          $("#token-form").classList.add("shown");
        }

        function useToken(token) {
          ui.token = token;
          if (token) sessionStorage.setItem("baton.token", token); else sessionStorage.removeItem("baton.token");
          $("#token-form").classList.remove("shown");
          loadAll();
          if (ui.tokenChanged) { const resume = ui.tokenChanged; ui.tokenChanged = null; resume(); }
          else if (ui.stream) ui.stream.abort();
        }

        $("#token-form").addEventListener("submit", (event) => { event.preventDefault(); useToken($("#token-input").value.trim()); $("#token-input").value = ""; });
        $("#token-forget").addEventListener("click", () => useToken(""));
        $("#token-open").addEventListener("click", () => askToken(ui.token ? "Replace the token in use." : "Give a token."));
        $("#tasks-state").addEventListener("change", () => loadTasks());
        $("#tasks-more").addEventListener("click", () => loadTasks(true));
        for (const filter of ["#tasks-queue", "#tasks-kind"]) $(filter).addEventListener("change", () => loadTasks());
        $("#goto").addEventListener("change", () => { const id = $("#goto").value.trim(); $("#goto").value = ""; if (id) showTask(id); });
        $("#events tbody").append(emptyRow(5, "Waiting for events…"));
        setInterval(loadQueues, 5000);
        setInterval(loadWorkers, 10000);
        setInterval(loadSchedules, 30000);
        setInterval(() => {
          $("#clock").textContent = new Date().toLocaleTimeString();
          $("#events-rate").textContent = number.format(ui.received) + " events/s";
          ui.received = 0;
        }, 1000);
        loadAll();
        follow();
        const linked = /^#task=([0-9a-f-]{36})$/.exec(location.hash);
        if (linked) showTask(linked[1]);
        """#
}
