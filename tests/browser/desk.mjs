// Drives the review desk in Debian's headless Firefox and prints what it saw, as JSON.
//
// Why Node: Debian ships no geckodriver, but Firefox has a WebDriver BiDi agent built in,
// and puppeteer-core speaks it without downloading anything (it never fetches a browser;
// it is pointed at /usr/bin/firefox-esr). The script only acts and observes; every
// assertion is made by tests/test_desk_firefox.py from the JSON it prints.
//
// stdin: {"url", "prefix", "name", "password", "key", "verdict", "reason", "screenshots",
//          "width", "tallest", "firefox"}
// stdout: {"signInUrl", "queueUrl", "who", "row": {...}, "request": {...}, "signed": {...}}
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer from "puppeteer-core";

// Firefox's background traffic off: the test talks to 127.0.0.1 and nothing else.
const PREFS = {
  "browser.shell.checkDefaultBrowser": false,
  "app.update.enabled": false,
  "app.update.auto": false,
  "datareporting.policy.dataSubmissionEnabled": false,
  "datareporting.healthreport.uploadEnabled": false,
  "toolkit.telemetry.enabled": false,
  "network.captive-portal-service.enabled": false,
  "network.connectivity-service.enabled": false,
  "browser.safebrowsing.malware.enabled": false,
  "browser.safebrowsing.phishing.enabled": false,
  "extensions.update.enabled": false,
  "browser.search.update": false,
};

async function readStdin() {
  let text = "";
  for await (const chunk of process.stdin) text += chunk;
  return JSON.parse(text);
}

const text = async (page, selector) => page.$eval(selector, (e) => e.textContent.trim());

async function screenshot(page, input, name) {
  // the whole page, as the Chromium test's helper does: as tall as it is, cut at `tallest`
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  await page.setViewport({ width: input.width, height: Math.min(height + 120, input.tallest) });
  await page.screenshot({ path: join(input.screenshots, `${name}.png`) });
  await page.setViewport({ width: input.width, height: 1000 });
}

async function main() {
  const input = await readStdin();
  const profile = await mkdtemp(join(tmpdir(), "firefox-profile-"));
  const browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: input.firefox,
    headless: true,
    userDataDir: profile,
    extraPrefsFirefox: PREFS,
    defaultViewport: { width: input.width, height: 1000 },
  });
  const seen = {};
  try {
    const page = await browser.newPage();
    const desk = input.url + input.prefix;
    const go = (action) => Promise.all([page.waitForNavigation({ waitUntil: "load" }), action]);

    await page.goto(desk + "/queue", { waitUntil: "load" });
    seen.signInUrl = page.url(); // not signed in: the desk sends the browser to its sign-in page
    await page.type("#name", input.name);
    await page.type("#password", input.password);
    await go(page.click("form.sign-in button[type=submit]"));
    seen.queueUrl = page.url();
    seen.who = await text(page, "#who");
    await screenshot(page, input, "desk-firefox-queue");

    seen.row = await page.evaluate((key) => {
      const span = [...document.querySelectorAll("table.queue tbody tr span[title]")].find((s) => s.title === key);
      const row = span && span.closest("tr");
      return row ? { reason: row.dataset.reason, request: row.dataset.request, href: row.querySelector("a").href } : null;
    }, input.key);
    if (!seen.row) return seen;
    await go(page.click(`table.queue tbody tr[data-request="${seen.row.request}"] a`));
    seen.request = {
      url: page.url(),
      h1: await text(page, "h1"),
      recommendation: await text(page, "#recommendation"),
      clock: await text(page, "#clock"),
      nodes: await page.$$eval("section.explanation li.node", (nodes) => nodes.map((n) => ({
        id: n.dataset.id,
        status: n.dataset.status,
        shown: n.querySelector(".status") ? n.querySelector(".status").textContent.trim() : null,
        visible: n.getBoundingClientRect().height > 0,
      }))),
    };
    await screenshot(page, input, "desk-firefox-request");

    await page.click(`#verdict-${input.verdict}`);
    await page.type("#reason", input.reason);
    await page.click("#attest");
    await go(page.click("#sign"));
    seen.signed = {
      url: page.url(),
      codes: await page.$eval("#answer", (e) => e.dataset.codes),
      reviewed: await page.$eval("#answer", (e) => e.dataset.reviewed),
      notice: await text(page, "#signed-notice"),
    };
    seen.userAgent = await page.evaluate(() => navigator.userAgent);
    return seen;
  } finally {
    await browser.close();
    await rm(profile, { recursive: true, force: true });
  }
}

main().then(
  (seen) => process.stdout.write(JSON.stringify(seen) + "\n"),
  (error) => {
    process.stderr.write(`desk.mjs: ${error.stack || error}\n`);
    process.exit(1);
  },
);
