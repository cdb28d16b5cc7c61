// The dashboard in a real browser (headless Chromium through playwright-core),
// as a new observatory's staff would use it: the administrator creates an
// operator and an observer on the Users page; the observer uploads a request,
// submits it and sees it on the schedule; the operator locks and unlocks the
// observatory; a visitor sees no control button and is refused when posting.
//
// Run by the `browser` test of the `ferros` crate, which starts `ferros start`
// and passes: FERROS_URL, FERROS_ADMIN_PASSWORD, FERROS_REQUEST_XML (a file),
// FERROS_REQUEST_NAME, FERROS_ARTEFACTS (the screenshots' folder), CHROMIUM.
// Every wait has a limit; the first failure ends the walk with its reason.
"use strict";
const fs = require("fs");
const path = require("path");
const { chromium } = require("playwright-core");

const base = process.env.FERROS_URL.replace(/\/$/, "");
const artefacts = process.env.FERROS_ARTEFACTS;
const xml = fs.readFileSync(process.env.FERROS_REQUEST_XML, "utf8");
const requestName = process.env.FERROS_REQUEST_NAME;
const LIMIT_MS = 60000;

function check(cond, what) {
  if (!cond) throw new Error(what);
}

let shot = 0;
async function screenshot(page, name) {
  shot += 1;
  const file = path.join(artefacts, `${String(shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot ${file}`);
}

async function logIn(browser, user, password) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(LIMIT_MS);
  // Every button that acts asks for a confirmation: accept it.
  page.on("dialog", (d) => d.accept());
  await page.goto(`${base}/login`);
  await page.fill("input[name=username]", user);
  await page.fill("input[name=password]", password);
  await Promise.all([page.waitForLoadState("load"), page.click("#login")]);
  const who = await page.textContent(".who");
  check(who.includes(user), `${user} is not logged in: the menu shows ${who}`);
  console.log(`${user} logged in`);
  return page;
}

async function menu(page) {
  return page.$$eval("nav.menu ul a", (as) => as.map((a) => a.getAttribute("href")));
}

async function createUser(page, name, profile, programs) {
  await page.goto(`${base}/users`);
  await page.fill("#new-username", name);
  await page.check(`#profile-${profile}`);
  await page.fill("input[name=programs]", programs);
  await Promise.all([page.waitForLoadState("load"), page.click("#create-user")]);
  const flash = await page.textContent(".flash");
  const m = /with password (\S+)/.exec(flash || "");
  check(m, `creating ${name}: no password in ${flash}`);
  console.log(`admin created ${name} (${profile})`);
  return m[1];
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"],
  });
  try {
    // The administrator creates the operator and the observer.
    const admin = await logIn(browser, "admin", process.env.FERROS_ADMIN_PASSWORD);
    const olgaPassword = await createUser(admin, "olga", "operator", "");
    const oscarPassword = await createUser(admin, "oscar", "observer", "AGN");
    await screenshot(admin, "admin-users");

    // The observer: no control, no users; uploads, submits, sees it planned.
    const oscar = await logIn(browser, "oscar", oscarPassword);
    const oscarMenu = await menu(oscar);
    check(oscarMenu.includes("/requests") && oscarMenu.includes("/schedule"), `observer menu ${oscarMenu}`);
    check(!oscarMenu.includes("/control") && !oscarMenu.includes("/users"), `observer menu ${oscarMenu}`);
    await oscar.goto(`${base}/requests`);
    await oscar.fill("#xml", xml);
    await Promise.all([oscar.waitForURL(/\/requests\/\d+$/), oscar.click("#upload")]);
    await screenshot(oscar, "observer-request-uploaded");
    await Promise.all([oscar.waitForLoadState("load"), oscar.click("#submit")]);
    const statuses = await oscar.$$eval("td.status", (tds) => tds.map((t) => t.textContent));
    check(statuses.length > 0 && statuses.every((s) => s !== "INCOMPLETE" && s !== "TOBESUBMITTED"),
      `after Submit the sequences are ${statuses}`);
    console.log(`observer submitted: ${statuses}`);
    const deadline = Date.now() + LIMIT_MS;
    let planned = false;
    while (!planned && Date.now() < deadline) {
      await oscar.goto(`${base}/schedule`);
      planned = (await oscar.textContent("main")).includes(requestName);
      if (!planned) await oscar.waitForTimeout(1000);
    }
    await screenshot(oscar, "observer-schedule");
    check(planned, `the request "${requestName}" is not on the schedule within a minute`);
    console.log("the observer sees the request on the schedule");

    // The operator locks, then unlocks.
    const olga = await logIn(browser, "olga", olgaPassword);
    await olga.goto(`${base}/control`);
    await olga.waitForSelector("#lock");
    await screenshot(olga, "operator-control");
    await Promise.all([olga.waitForLoadState("load"), olga.click("#lock")]);
    check((await olga.textContent("#locked")).trim() === "true", "LOCK did not lock");
    await screenshot(olga, "operator-locked");
    await Promise.all([olga.waitForLoadState("load"), olga.click("#unlock")]);
    check((await olga.textContent("#locked")).trim() === "false", "UNLOCK did not unlock");
    await screenshot(olga, "operator-unlocked");
    console.log("the operator locked and unlocked");

    // A visitor: the public pages, no control button, refused when posting.
    const visitor = await (await browser.newContext()).newPage();
    visitor.setDefaultTimeout(LIMIT_MS);
    await visitor.goto(`${base}/`);
    const visitorMenu = await menu(visitor);
    check(visitorMenu.includes("/weather") && visitorMenu.includes("/schedule"), `visitor menu ${visitorMenu}`);
    check(!visitorMenu.includes("/control"), `visitor menu ${visitorMenu}`);
    check((await visitor.$$("button#lock, button#unlock")).length === 0, "a visitor sees a control button");
    await screenshot(visitor, "visitor-home");
    const page = await visitor.goto(`${base}/control`);
    check(page.status() === 401, `a visitor opening /control gets ${page.status()}`);
    await screenshot(visitor, "visitor-control-refused");
    for (const url of ["/control/lock", "/api/v1/control/lock"]) {
      const r = await visitor.request.post(`${base}${url}`, { form: { csrf: "x" }, failOnStatusCode: false });
      check(r.status() === 401 || r.status() === 403, `a visitor posting ${url} gets ${r.status()}`);
    }
    // A logged-in observer posting anyway: 403.
    const r = await oscar.request.post(`${base}/api/v1/control/lock`, { failOnStatusCode: false });
    check(r.status() === 403, `an observer posting /api/v1/control/lock gets ${r.status()}`);
    console.log("the visitor and the observer are refused the control");
  } finally {
    await browser.close();
  }
}

main().then(
  () => console.log("browser walk: passed"),
  (e) => {
    console.error(`browser walk: FAILED: ${e.stack || e}`);
    process.exit(1);
  },
);
