// Browser tests of Cairn's web app: the real `cairn` binary with the demo workspace, Debian's
// headless Chromium driven by playwright-core, accessibility checked by axe-core. Screenshots of
// every page at 1440 px and 400 px (and dark mode at 1440 px) go to $WEB_SCREENSHOTS.
//
//   CAIRN_BIN=target/debug/cairn node run.mjs
//
// Exits non-zero on the first failed expectation, or when axe reports a serious or critical
// violation on any page.

import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..");
const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(repo, process.env.CARGO_TARGET_DIR) : path.join(repo, "target");
const cairnBin = process.env.CAIRN_BIN || path.join(targetDir, "debug", "cairn");
const shotsDir = process.env.WEB_SCREENSHOTS || path.join(targetDir, "web-screenshots");
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
const axeSource = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const XSS = `<img src=x onerror="window.__xss='img'"><script>window.__xss='script'</script>"><svg onload="window.__xss='svg'">`;

let failures = 0;
let checks = 0;
function check(condition, message) {
  checks += 1;
  if (!condition) {
    failures += 1;
    console.error("FAIL " + message);
    throw new Error(message);
  }
  console.log("ok   " + message);
}

// ---------- the server ----------
async function startCairn() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cairn-web-"));
  const child = spawn(cairnBin, ["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir", dataDir], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || "warn" },
  });
  let stderr = "";
  const address = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("cairn did not start:\n" + stderr)), 120000);
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
      const found = /cairn is listening on (http:\/\/\S+)/.exec(stderr);
      if (found) {
        clearTimeout(timer);
        resolve(found[1]);
      }
    });
    child.on("exit", (code) => reject(new Error("cairn exited with " + code + ":\n" + stderr)));
  });
  child.stdout.resume();
  const people = {};
  for (const line of fs.readFileSync(path.join(dataDir, "demo-credentials.txt"), "utf8").split("\n")) {
    const [email, password, role, teams] = line.trim().split(/\s+/);
    if (email) people[role] = { email, password, role, teams: (teams || "").split(",") };
  }
  return { child, address, dataDir, people };
}

// ---------- helpers ----------
async function signIn(page, base, person) {
  await page.context().clearCookies();
  await page.goto(base + "/signin");
  await page.fill("#email", person.email);
  await page.fill("#password", person.password);
  await Promise.all([page.waitForURL(base + "/"), page.click('#signin-form button[type="submit"]')]);
}

async function csrfOf(page) {
  return page.getAttribute('meta[name="csrf-token"]', "content");
}

async function apiCall(page, base, method, apiPath, body) {
  const token = await csrfOf(page);
  const response = await page.request.fetch(base + "/api/v1" + apiPath, {
    method,
    headers: { "X-CSRF-Token": token, "Content-Type": "application/json" },
    data: body === undefined ? undefined : JSON.stringify(body),
  });
  return response;
}

const violations = [];
async function axe(page, label) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const outcome = await axe.run(document, { resultTypes: ["violations"] });
    return outcome.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
  });
  const bad = result.filter((v) => v.impact === "serious" || v.impact === "critical");
  for (const v of bad) {
    violations.push({ page: label, ...v });
    console.error(`axe ${label}: ${v.impact} ${v.id} (${v.help}) at ${v.nodes.join(", ")}`);
  }
  for (const v of result.filter((v) => !bad.includes(v))) {
    console.log(`axe ${label}: ${v.impact} ${v.id} (${v.help})`);
  }
}

function checkSecurityHeaders(response, label) {
  const headers = response.headers();
  const csp = headers["content-security-policy"] || "";
  check(csp.includes("script-src 'self'") && csp.includes("style-src 'self'") && !csp.includes("unsafe-inline") &&
    csp.includes("frame-ancestors 'none'") && csp.includes("default-src 'none'"), `${label}: Content-Security-Policy forbids inline script and remote loads`);
  check(headers["x-content-type-options"] === "nosniff", `${label}: X-Content-Type-Options nosniff`);
  check(Boolean(headers["referrer-policy"]), `${label}: Referrer-Policy set`);
}

// Visits a page, checks its headers, runs axe at 1440 px, 400 px and in dark mode, and saves
// screenshots of each.
async function visit(page, base, pagePath, name, prepare) {
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.emulateMedia({ colorScheme: "light" });
  const response = await page.goto(base + pagePath);
  check(response.status() === 200, `${name}: ${pagePath} answers 200`);
  checkSecurityHeaders(response, name);
  if (prepare) await prepare();
  await axe(page, name + " @1440");
  await page.screenshot({ path: path.join(shotsDir, `${name}-1440.png`), fullPage: true });
  await page.emulateMedia({ colorScheme: "dark" });
  await axe(page, name + " @1440 dark");
  await page.screenshot({ path: path.join(shotsDir, `${name}-1440-dark.png`), fullPage: true });
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize({ width: 400, height: 860 });
  await axe(page, name + " @400");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `${name}: no sideways scrolling at 400 px (overflow ${overflow}px)`);
  await page.screenshot({ path: path.join(shotsDir, `${name}-400.png`), fullPage: true });
  await page.setViewportSize({ width: 1440, height: 900 });
}

// ---------- the flows ----------
async function main() {
  fs.mkdirSync(shotsDir, { recursive: true });
  fs.rmSync(path.join(shotsDir, "failure.png"), { force: true });
  const { child, address: base, people } = await startCairn();
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "cairn-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1440, height: 900 },
  });
  const page = context.pages()[0] || (await context.newPage());
  const dialogs = [];
  page.on("dialog", async (dialog) => {
    dialogs.push(dialog.message());
    await dialog.accept();
  });
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));
  // Nothing may be fetched from anywhere but this server.
  const foreign = [];
  page.on("request", (request) => {
    const url = request.url();
    if (!url.startsWith(base) && !url.startsWith("data:") && !url.startsWith("about:")) foreign.push(url);
  });

  try {
    const { admin, editor, viewer } = people;
    check(admin && editor && viewer, "the demo has an admin, an editor and a viewer");

    // Signed out: pages lead to sign-in; unknown API paths still answer JSON.
    let response = await page.goto(base + "/search");
    check(page.url().startsWith(base + "/signin"), "a signed-out visit goes to the sign-in page");
    checkSecurityHeaders(response, "sign-in");
    const apiMissing = await page.request.get(base + "/api/v1/no-such-thing");
    check(apiMissing.status() === 404 && (await apiMissing.json()).error.code === "not_found", "unknown /api/v1 paths answer the JSON 404");
    await visit(page, base, "/signin", "signin");

    // Sign in with a wrong password, then the right one.
    await page.fill("#email", admin.email);
    await page.fill("#password", "not-the-password");
    await page.click('#signin-form button[type="submit"]');
    await page.waitForSelector("#signin-error:not(:empty)");
    check(page.url().startsWith(base + "/signin"), "a wrong password keeps you on the sign-in page with a message");
    await signIn(page, base, admin);
    check(await page.isVisible('nav a[href="/settings"]'), "an admin sees the settings");

    // Ask: the answer streams in with citations that link to resource pages.
    const question = "Which table holds refunds?";
    await page.fill("#question", question);
    const [askResponse] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/api/v1/ai/ask")),
      page.press("#question", "Enter"),
    ]);
    check((askResponse.headers()["content-type"] || "").startsWith("text/event-stream"), "the answer comes as server-sent events");
    check((await askResponse.text()).includes("event: delta"), "the stream carries delta events");
    await page.waitForSelector(".turn .answer:not(.streaming) .answer-text:not(:empty)");
    await page.waitForSelector(".turn details.sent");
    const citations = await page.$$eval(".turn .citations a", (links) => links.map((a) => a.getAttribute("href")));
    check(citations.length > 0 && citations.every((href) => /^\/resources\/\d+$/.test(href)), `citations link to resource pages (${citations.length})`);
    await page.click(".turn details.sent summary");
    check((await page.textContent(".turn details.sent")).includes("Nothing left this server"), "the built-in assistant's answer says nothing left this server");

    // The prompt is in the right-hand panel, newest first, and survives a reload.
    const firstItem = () => page.textContent("#history-list li:first-child .history-q");
    check((await firstItem()) === question, "the prompt is listed in the history panel");
    const panelBox = await page.locator(".history-panel").boundingBox();
    const threadBox = await page.locator(".conversation").boundingBox();
    check(panelBox.x > threadBox.x + threadBox.width - 1, "the history panel is on the right of the conversation");
    await visit(page, base, page.url().replace(base, ""), "ai");
    check((await firstItem()) === question, "the prompt is still listed after a reload");
    check((await page.$$(".thread .turn")).length === 1, "the reloaded thread shows its turn");

    // Clicking a citation opens its resource page.
    const citationHref = citations[0];
    await page.click(`.turn .citations a[href="${citationHref}"]`);
    await page.waitForURL(base + citationHref);
    check((await page.textContent("h1")).trim().length > 0, "a citation opens its resource page");

    // Delete the prompt: gone at once and after a reload.
    await page.goto(base + "/");
    const before = await page.$$eval("#history-list li", (items) => items.length);
    await page.click("#history-list li:first-child [data-delete-prompt]");
    await page.waitForFunction((n) => document.querySelectorAll("#history-list li").length === n - 1, before);
    await page.reload();
    const remaining = await page.$$eval("#history-list .history-q", (items) => items.map((i) => i.textContent));
    check(!remaining.includes(question), "a deleted prompt is gone after a reload");

    // Plant an XSS payload in a description (as the API allows any text) and look at it.
    const search = await (await page.request.get(base + "/api/v1/resources?q=orders&kind=table")).json();
    const table = search.items.find((item) => item.name === "orders") || search.items[0];
    response = await apiCall(page, base, "PATCH", "/resources/" + table.id, { description: XSS + " planted" });
    check(response.ok(), "an admin can set any text as a description through the API");
    await visit(page, base, "/resources/" + table.id, "resource");
    check((await page.textContent("#description")).includes(XSS), "the payload renders as text on the resource page");
    check(await page.evaluate(() => window.__xss === undefined), "the payload never runs on the resource page");
    check((await page.$$("#description img, #description script, #description svg")).length === 0, "the payload made no elements");
    check(await page.isVisible("svg.graph"), "the resource page draws its relations graph");
    check((await page.$$("table.columns tbody tr")).length > 0, "the resource page lists its columns");
    await page.goto(base + "/search?q=planted");
    check(await page.evaluate(() => window.__xss === undefined), "the payload never runs in search results");
    check((await page.textContent(".results")).includes("<img src=x"), "search shows the payload as text");

    // Search: filters, counts, highlighting, and `/` focuses the box.
    await visit(page, base, "/search?q=refund&kind=table", "search");
    check(/\d+ result/.test(await page.textContent("#result-count")), "search shows a result count");
    check((await page.$$(".results mark")).length > 0, "matched words are highlighted");
    await page.click("h1");
    await page.keyboard.press("/");
    check(await page.evaluate(() => document.activeElement && document.activeElement.id === "search-q"), "`/` focuses the search box");
    await page.goto(base + "/search?team=hr");
    const hrCount = await page.textContent("#result-count");
    await page.goto(base + "/search");
    check(hrCount !== (await page.textContent("#result-count")), "the team filter narrows the results");

    // Editors document: suggest a description, then discard it.
    // (admins are editors too; the viewer check follows below)
    await page.goto(base + "/resources/" + table.id);
    await page.click("#suggest-description");
    await page.waitForSelector("#suggestion:not([hidden])");
    check((await page.textContent("#suggestion-text")).trim().length > 0, "suggest description shows a draft");
    await page.click("#discard-suggestion");
    check(await page.isHidden("#suggestion"), "discard hides the draft");

    // Settings pages: the admin turns Run SQL on and grants the editor query permission.
    await visit(page, base, "/settings", "settings-ai");
    if (!(await page.isChecked("#run-sql"))) await page.click('label[for="run-sql"]');
    await page.click('#ai-settings button[type="submit"]');
    await page.waitForSelector("#ai-settings-status.ok");
    check(await page.isChecked("#run-sql"), "the admin turned Run SQL on");
    await visit(page, base, "/settings/integrations", "settings-integrations");
    const permissions = page.locator(".permissions-form").first();
    const editorBox = permissions.locator('label.check', { hasText: editor.email }).locator("input");
    await editorBox.check();
    await permissions.locator('button[type="submit"]').click();
    await permissions.locator(".form-status.ok").waitFor();
    check(true, "the admin granted the editor query permission");
    // Sync now shows progress, then the counts.
    await page.click("[data-sync]");
    await page.waitForSelector(".sync-progress .sync-counts");
    check(/Synced in [\d.]+ s\s*\d+ added\s*\d+ changed\s*\d+ removed/.test(await page.textContent(".sync-progress")), "sync now follows the background sync to its counts");
    await visit(page, base, "/settings/people", "settings-people");
    await visit(page, base, "/settings/audit", "settings-audit");
    await page.click("#verify-audit");
    await page.waitForSelector("#verify-result.ok");
    check((await page.textContent("#verify-result")).includes("holds"), "the audit chain verifies");
    await visit(page, base, "/settings/egress", "settings-egress");
    await visit(page, base, "/account", "account");
    await page.fill("#token-name", "browser test");
    await page.click('#create-token button[type="submit"]');
    await page.waitForSelector("#new-token:not([hidden])");
    check((await page.inputValue("#new-token-value")).length > 20, "a new API token is shown once");

    // The permitted editor gets a result table.
    await signIn(page, base, editor);
    check(!(await page.isVisible('nav a[href="/settings"]')), "an editor sees no settings");
    await page.fill("#question", "How many orders are there?");
    await page.press("#question", "Enter");
    await page.waitForSelector(".turn .answer:not(.streaming) details.sent");
    check((await page.$$(".turn .sql-answer table tbody tr")).length > 0, "a permitted user gets a result table");
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.screenshot({ path: path.join(shotsDir, "ai-sql-1440.png"), fullPage: true });
    await page.setViewportSize({ width: 400, height: 860 });
    await page.screenshot({ path: path.join(shotsDir, "ai-sql-400.png"), fullPage: true });
    await page.setViewportSize({ width: 1440, height: 900 });
    await axe(page, "ai-sql @1440");
    // The thread reopens from the panel, with a "Run again" for its SQL.
    await page.goto(base + "/");
    await page.click("#history-list li:first-child a");
    await page.waitForSelector(".turn [data-run-sql]");
    await page.click(".turn [data-run-sql]");
    await page.waitForSelector(".turn .sql-result table");
    check(true, "a reopened thread runs its SQL again on request");

    // The viewer sees no settings and no editing controls.
    await signIn(page, base, viewer);
    check((await page.$$('a[href^="/settings"]')).length === 0, "a viewer sees no link to settings");
    response = await page.goto(base + "/settings");
    check(response.status() === 403, "a viewer opening settings is refused");
    checkSecurityHeaders(response, "refused page");
    const visible = await (await page.request.get(base + "/api/v1/resources?kind=table&limit=1")).json();
    await page.goto(base + "/resources/" + visible.items[0].id);
    check((await page.$$("#edit-resource, #suggest-description, #edit-form")).length === 0, "a viewer sees no editing controls");
    await visit(page, base, "/resources/" + visible.items[0].id, "resource-viewer");

    // Sign out.
    await page.click("#sign-out");
    await page.waitForURL(base + "/signin");
    check((await page.goto(base + "/")).url().startsWith(base + "/signin"), "after signing out the pages need sign-in again");

    check(pageErrors.length === 0, "no script errors on any page" + (pageErrors.length ? ": " + pageErrors.join("; ") : ""));
    check(foreign.length === 0, "nothing was fetched from another origin" + (foreign.length ? ": " + foreign.join(", ") : ""));
    check(!dialogs.some((message) => /xss|img|script|svg/i.test(message)), "no payload opened a dialog");
    check(violations.length === 0, `axe: no serious or critical violations (${violations.length})`);
  } catch (error) {
    if (failures === 0) {
      failures += 1;
      console.error("FAIL " + (error && error.stack ? error.stack : error));
    }
    await page.screenshot({ path: path.join(shotsDir, "failure.png"), fullPage: true }).catch(() => {});
  } finally {
    await context.close().catch(() => {});
    child.kill("SIGTERM");
    fs.rmSync(profile, { recursive: true, force: true });
  }
  console.log(`${checks} checks, ${failures} failed; screenshots in ${shotsDir}`);
  process.exit(failures === 0 ? 0 : 1);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
